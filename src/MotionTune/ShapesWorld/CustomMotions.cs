namespace MotionTune.ShapesWorld;

/// <summary>Folders of custom motion files (<see cref="CustomMotion"/>), and the ones shipped with MotionTune.</summary>
public static class CustomMotions
{
    /// <summary>The shipped examples: <c>shapesworld/motions/</c> beside the MotionTune binaries.</summary>
    public static string BuiltInFolder => Path.Combine(AppContext.BaseDirectory, "shapesworld", "motions");

    /// <summary>The shipped custom motions, by name.</summary>
    public static IReadOnlyList<CustomMotion> BuiltIn() => LoadFolder(BuiltInFolder);

    /// <summary>Every <c>*.json</c> motion in <paramref name="folder"/>, ordered by name.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder is missing.</exception>
    /// <exception cref="FormatException">A file is malformed (the message names it, its line and field), or two files share a name.</exception>
    public static IReadOnlyList<CustomMotion> LoadFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Motion folder not found: {folder}");
        var motions = Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal).Select(CustomMotion.Load).ToList();
        if (motions.Count == 0) throw new FormatException($"{folder}: holds no *.json motion files.");
        var duplicate = motions.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new FormatException($"{folder}: {duplicate.Count()} files define the motion '{duplicate.Key}'; names must be unique.");
        return motions.OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
    }
}
