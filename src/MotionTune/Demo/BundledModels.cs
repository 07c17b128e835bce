namespace MotionTune.Demo;

/// <summary>The ShapesWorld base models shipped with MotionTune (<c>models/</c> in the repository, copied beside the app).</summary>
public static class BundledModels
{
    /// <summary>The default model of the demo: the best of the bundled models by the quality gates (see models/README.md).</summary>
    public const string Default = "shapesworld-cogvideox";

    /// <summary>The folder holding the bundled models.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "models");

    /// <summary>The names of the bundled models present.</summary>
    public static IReadOnlyList<string> Names() => Directory.Exists(Folder)
        ? Directory.GetDirectories(Folder).Where(d => File.Exists(Path.Combine(d, "model_index.json"))).Select(Path.GetFileName).OfType<string>().Order().ToList()
        : [];

    /// <summary>A bundled model's folder by name, or the argument itself when it is a pipeline folder.</summary>
    /// <exception cref="DirectoryNotFoundException">Neither a bundled model nor a pipeline folder.</exception>
    public static string Resolve(string nameOrFolder)
    {
        if (File.Exists(Path.Combine(nameOrFolder, "model_index.json"))) return Path.GetFullPath(nameOrFolder);
        var bundled = Path.Combine(Folder, nameOrFolder);
        if (File.Exists(Path.Combine(bundled, "model_index.json"))) return bundled;
        var names = string.Join(", ", Names());
        throw new DirectoryNotFoundException(
            $"--model {nameOrFolder}: neither a pipeline folder (with model_index.json) nor a bundled model " +
            $"(bundled: {(names.Length > 0 ? names : $"none found in {Folder}")}).");
    }
}
