namespace MotionTune.Bench;

/// <summary>Command-line values of the benchmark commands, with errors that name the option.</summary>
public static class BenchArgs
{
    /// <summary>A positive integer given to <paramref name="option"/>.</summary>
    /// <exception cref="ArgumentException">The value is not a positive integer.</exception>
    public static int Positive(string option, string value) =>
        int.TryParse(value, out int n) && n > 0 ? n : throw new ArgumentException($"{option} takes a positive integer, not '{value}'.");

    /// <summary>A non-negative integer given to <paramref name="option"/>.</summary>
    /// <exception cref="ArgumentException">The value is not a non-negative integer.</exception>
    public static int NonNegative(string option, string value) =>
        int.TryParse(value, out int n) && n >= 0 ? n : throw new ArgumentException($"{option} takes an integer of at least 0, not '{value}'.");
}
