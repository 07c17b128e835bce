using System.Text;
using static TorchSharp.torch;

namespace MotionTune.IO;

/// <summary>Raised when checkpoint tensors and module parameters do not line up; lists every problem at once.</summary>
public sealed class CheckpointMismatchException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
    IReadOnlyList<string> shapeMismatches) : Exception(message)
{
    /// <summary>Module parameters the checkpoint lacks.</summary>
    public IReadOnlyList<string> Missing { get; } = missing;
    /// <summary>Checkpoint tensors the module does not have.</summary>
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    /// <summary>Tensors present in both whose shapes differ, described.</summary>
    public IReadOnlyList<string> ShapeMismatches { get; } = shapeMismatches;
}

/// <summary>How checkpoint keys meet module keys.</summary>
public sealed record LoadOptions
{
    /// <summary>Fail on missing or unexpected keys (shape mismatches always fail). Default true.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Maps a checkpoint key to a module key; return null to skip the tensor.</summary>
    public Func<string, string?>? KeyMap { get; init; }

    /// <summary>Module keys that may be absent from the checkpoint (e.g. non-learned buffers).</summary>
    public Func<string, bool>? AllowMissing { get; init; }

    /// <summary>The name used in messages (defaults to the weight files' paths).</summary>
    public string? SourceName { get; init; }
}

/// <summary>What a load did.</summary>
/// <param name="Loaded">Tensors copied into the module.</param>
/// <param name="Missing">Module keys left as they were (non-strict loads, or allowed).</param>
/// <param name="Unexpected">Checkpoint keys not used (non-strict loads).</param>
public sealed record LoadReport(int Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>Copies checkpoint tensors into a module's parameters and buffers.</summary>
public static class StateDictLoader
{
    /// <summary>
    /// Loads <paramref name="source"/> into <paramref name="module"/>, converting each tensor to the dtype and device of
    /// the parameter it fills. Everything is checked before anything is copied, so a failed load leaves the module as it was.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Keys are missing or unexpected (strict), or shapes differ.</exception>
    public static LoadReport Load(nn.Module module, WeightSource source, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var target = module.state_dict();
        var name = options.SourceName ?? string.Join(", ", source.Files.Select(f => f.Path));

        var mapped = new Dictionary<string, string>(); // module key -> checkpoint key
        var unexpected = new List<string>();
        foreach (var key in source.Names.Order(StringComparer.Ordinal))
        {
            var moduleKey = options.KeyMap is null ? key : options.KeyMap(key);
            if (moduleKey is null) continue;
            if (target.ContainsKey(moduleKey)) mapped[moduleKey] = key;
            else unexpected.Add(key);
        }
        var missing = target.Keys.Where(k => !mapped.ContainsKey(k) && !(options.AllowMissing?.Invoke(k) ?? false))
            .Order(StringComparer.Ordinal).ToList();
        var shapeMismatches = new List<string>();
        foreach (var (moduleKey, fileKey) in mapped)
        {
            var want = target[moduleKey].shape;
            var have = source.Entry(fileKey).Shape;
            if (!want.SequenceEqual(have))
                shapeMismatches.Add($"{moduleKey}: checkpoint [{string.Join(", ", have)}], model [{string.Join(", ", want)}]");
        }

        bool fail = shapeMismatches.Count > 0 || (options.Strict && (missing.Count > 0 || unexpected.Count > 0));
        if (fail)
        {
            var message = new StringBuilder($"Checkpoint {name} does not match {module.GetType().Name}:");
            Append(message, "missing from the checkpoint", missing);
            Append(message, "unexpected in the checkpoint", unexpected);
            Append(message, "shape mismatches", shapeMismatches);
            throw new CheckpointMismatchException(message.ToString(), missing, unexpected, shapeMismatches);
        }

        using (no_grad())
        {
            foreach (var (moduleKey, fileKey) in mapped)
            {
                var dst = target[moduleKey];
                if (dst.is_meta)
                    throw new InvalidOperationException($"{moduleKey} lives on the meta device; build the module on a real device before loading.");
                using var src = source.Read(fileKey);
                dst.copy_(src);
            }
        }
        return new LoadReport(mapped.Count, missing, unexpected);
    }

    /// <summary>Opens a model folder's weights and loads them (see <see cref="WeightSource.FromFolder"/>).</summary>
    public static LoadReport LoadFolder(nn.Module module, string folder, LoadOptions? options = null, string? variant = null)
    {
        using var source = WeightSource.FromFolder(folder, variant);
        return Load(module, source, options);
    }

    private static void Append(StringBuilder message, string what, IReadOnlyList<string> keys)
    {
        if (keys.Count == 0) return;
        message.Append($"\n  {keys.Count} {what}: ");
        message.Append(string.Join(", ", keys.Take(12)));
        if (keys.Count > 12) message.Append($", ... ({keys.Count - 12} more)");
    }
}
