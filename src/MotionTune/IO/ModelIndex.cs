using System.Text.Json;

namespace MotionTune.IO;

/// <summary>One component of a pipeline folder: its library and class as <c>model_index.json</c> names them.</summary>
/// <param name="Name">Subfolder name (e.g. <c>unet</c>).</param>
/// <param name="Library">e.g. <c>diffusers</c> or <c>transformers</c>.</param>
/// <param name="ClassName">e.g. <c>UNet3DConditionModel</c>.</param>
public sealed record PipelineComponent(string Name, string Library, string ClassName);

/// <summary>A diffusers pipeline folder's <c>model_index.json</c>.</summary>
public sealed record ModelIndex(string Folder, string ClassName, IReadOnlyDictionary<string, PipelineComponent> Components)
{
    /// <summary>Reads <c>model_index.json</c> from a pipeline folder.</summary>
    /// <exception cref="FileNotFoundException">The folder has no model_index.json.</exception>
    /// <exception cref="CheckpointFormatException">The file is malformed.</exception>
    public static ModelIndex Load(string folder)
    {
        var path = Path.Combine(folder, "model_index.json");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{folder} is not a pipeline folder: it has no model_index.json.", path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            var className = root.GetProperty("_class_name").GetString() ?? "";
            var components = new Dictionary<string, PipelineComponent>();
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name.StartsWith('_') || p.Value.ValueKind != JsonValueKind.Array) continue;
                var parts = p.Value.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? null : x.GetString()).ToArray();
                if (parts.Length != 2 || parts[0] is null || parts[1] is null) continue; // [null, null] marks an absent component
                components[p.Name] = new PipelineComponent(p.Name, parts[0]!, parts[1]!);
            }
            return new ModelIndex(folder, className, components);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointFormatException($"{path}: malformed model_index.json: {e.Message}", e);
        }
    }

    /// <summary>The subfolder of a component, checked to exist.</summary>
    public string ComponentFolder(string name)
    {
        if (!Components.ContainsKey(name))
            throw new KeyNotFoundException($"{Folder}/model_index.json has no '{name}' component (has: {string.Join(", ", Components.Keys)}).");
        var dir = Path.Combine(Folder, name);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{Folder}: component folder '{name}' is missing.");
        return dir;
    }
}
