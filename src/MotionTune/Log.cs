namespace MotionTune;

/// <summary>
/// The library's diagnostics channel. Messages go to standard error unless a host (the CLI, a test)
/// sets <see cref="Sink"/>.
/// </summary>
public static class Log
{
    /// <summary>Receives every message with its level.</summary>
    public static Action<LogLevel, string> Sink { get; set; } = (level, message) => Console.Error.WriteLine($"[{level}] {message}");

    /// <summary>Information worth a line.</summary>
    public static void Info(string message) => Sink(LogLevel.Info, message);

    /// <summary>Something the user should look at; work goes on.</summary>
    public static void Warning(string message) => Sink(LogLevel.Warning, message);
}

/// <summary>Message levels.</summary>
public enum LogLevel
{
    /// <summary>Information.</summary>
    Info,
    /// <summary>Warning.</summary>
    Warning,
}
