namespace MotionTune.Evaluation;

/// <summary>
/// The four edit prompts of a TGVE video, by the short names the LOVEU-TGVE evaluation scripts use
/// (the first word of the column name, lower case).
/// </summary>
public static class EditKinds
{
    /// <summary>"Style Change Caption".</summary>
    public const string Style = "style";

    /// <summary>"Object Change Caption" (the subject edit; the probe's c′).</summary>
    public const string Object = "object";

    /// <summary>"Background Change Caption".</summary>
    public const string Background = "background";

    /// <summary>"Multiple Changes Caption".</summary>
    public const string Multiple = "multiple";

    /// <summary>The kinds in the CSV's column order.</summary>
    public static IReadOnlyList<string> All { get; } = [Style, Object, Background, Multiple];

    /// <summary>The TGVE CSV column holding each kind's prompt.</summary>
    public static IReadOnlyDictionary<string, string> Columns { get; } = new Dictionary<string, string>
    {
        [Style] = "Style Change Caption",
        [Object] = "Object Change Caption",
        [Background] = "Background Change Caption",
        [Multiple] = "Multiple Changes Caption",
    };

    /// <summary>A readable label: "Style", "Object", "Background", "Multiple"; other kinds as given.</summary>
    public static string Label(string kind) =>
        All.Contains(kind) ? char.ToUpperInvariant(kind[0]) + kind[1..] : kind;
}
