using System.Text.Json;
using static TorchSharp.torch;

namespace MotionTune.IO;

/// <summary>
/// The weights of one model: a single safetensors file, or the shards listed by a
/// <c>*.safetensors.index.json</c> (diffusers' <c>diffusion_pytorch_model.*</c> and transformers' <c>model.*</c> names).
/// Files are memory-mapped and read one tensor at a time.
/// </summary>
public sealed class WeightSource : IDisposable
{
    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byName;

    private WeightSource(List<SafeTensorsFile> files)
    {
        _files = files;
        _byName = [];
        foreach (var f in files)
            foreach (var name in f.Entries.Keys)
                if (!_byName.TryAdd(name, f))
                    throw new CheckpointFormatException($"Tensor '{name}' appears in both {_byName[name].Path} and {f.Path}.");
    }

    /// <summary>Tensor names.</summary>
    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>The files behind this source.</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>The header entry of a tensor.</summary>
    public SafeTensorEntry Entry(string name) => _byName.TryGetValue(name, out var f)
        ? f.Entries[name]
        : throw new KeyNotFoundException($"No tensor named '{name}' in {string.Join(", ", _files.Select(x => x.Path))}.");

    /// <summary>True when the source has a tensor of that name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Reads a tensor in its stored dtype on the CPU.</summary>
    public Tensor Read(string name) => _byName.TryGetValue(name, out var f)
        ? f.Read(name)
        : throw new KeyNotFoundException($"No tensor named '{name}' in {string.Join(", ", _files.Select(x => x.Path))}.");

    /// <summary>Opens one safetensors file.</summary>
    public static WeightSource FromFile(string path) => new([SafeTensorsFile.Open(path)]);

    /// <summary>
    /// Opens a model folder's weights: <c>{stem}.safetensors</c> or <c>{stem}.safetensors.index.json</c> for
    /// stems <c>diffusion_pytorch_model</c> and <c>model</c> (with an optional variant such as <c>fp16</c>),
    /// or the folder's only <c>*.safetensors</c> file.
    /// </summary>
    public static WeightSource FromFolder(string folder, string? variant = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder not found: {folder}");
        var suffix = variant is null ? "" : $".{variant}";
        foreach (var stem in new[] { "diffusion_pytorch_model", "model" })
        {
            var single = Path.Combine(folder, $"{stem}{suffix}.safetensors");
            if (File.Exists(single)) return FromFile(single);
            var index = Path.Combine(folder, $"{stem}{suffix}.safetensors.index.json");
            if (File.Exists(index)) return FromIndex(index);
        }
        var any = Directory.GetFiles(folder, "*.safetensors");
        if (any.Length == 1) return FromFile(any[0]);
        var found = Directory.GetFiles(folder).Select(Path.GetFileName).ToList();
        throw new FileNotFoundException(
            $"No weights in {folder}: expected diffusion_pytorch_model{suffix}.safetensors, model{suffix}.safetensors or a matching " +
            $".safetensors.index.json (found: {(found.Count == 0 ? "nothing" : string.Join(", ", found))}).");
    }

    /// <summary>Opens the shards named by a <c>*.safetensors.index.json</c> weight map.</summary>
    public static WeightSource FromIndex(string indexPath)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            weightMap = doc.RootElement.GetProperty("weight_map").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.GetString() ?? throw new FormatException($"'{p.Name}' maps to null"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
        {
            throw new CheckpointFormatException($"{indexPath}: not a safetensors index (needs a 'weight_map' object): {e.Message}", e);
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var files = new List<SafeTensorsFile>();
        try
        {
            foreach (var shard in weightMap.Values.Distinct().Order())
                files.Add(SafeTensorsFile.Open(Path.Combine(dir, shard)));
            var source = new WeightSource(files);
            var missing = weightMap.Keys.Where(k => !source.Contains(k)).Take(5).ToList();
            if (missing.Count > 0)
                throw new CheckpointFormatException($"{indexPath}: the weight map names tensors its shards lack: {string.Join(", ", missing)}.");
            return source;
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
