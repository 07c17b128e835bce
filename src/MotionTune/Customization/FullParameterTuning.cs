using System.Text.Json;
using MotionTune.IO;
using MotionTune.Models.Layers;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>What a full-parameter customization tuned; stored in the file's metadata (no rank: there is no adapter).</summary>
public sealed record FullTuningSettings
{
    /// <summary>Always <c>full</c>; tells the file apart from a LoRA's settings.</summary>
    public string Method { get; init; } = "full";
    /// <summary>Target preset name or pattern.</summary>
    public string Targets { get; init; } = "temporal-qkvo";
    /// <summary>The boundary timestep: the tuned weights act only at t ≥ tau. Null when unknown.</summary>
    public int? Tau { get; init; }
    /// <summary>The base model the weights were tuned from (a path or a hub id), if known.</summary>
    public string? BaseModel { get; init; }
    /// <summary>Architecture, if known.</summary>
    public Architecture? Architecture { get; init; }
}

/// <summary>
/// The paper's full-parameter variant (section 4.5): the targeted <see cref="Linear"/> layers' weights and biases are
/// trained themselves. It keeps float32 master copies (what the optimizer updates and the file stores) and the original
/// weights, and switches the model between the two by copying, so the base weights come back bit for bit at t &lt; τ.
/// </summary>
/// <remarks>
/// The model's own tensors are the working copies in the base dtype: the forward and backward passes run in bf16 like
/// the rest of the model, their gradient is read in the base dtype, and <see cref="PublishWeights"/> rounds the updated
/// masters into them after each step. Keeping the master in fp32 is what lets small Adam steps accumulate: a bf16 weight
/// of 0.1 has a spacing of 2⁻¹¹ ≈ 4.9e-4, so any step below about 2.4e-4 (every step at lr 1e-4) would round away.
/// Memory per tuned weight: original + master + two Adam moments, i.e. about 14 bytes per bf16 parameter.
/// </remarks>
public sealed class FullParameterTuning : ICustomization
{
    /// <summary>Metadata key of the settings (the same key LoRA files use).</summary>
    public const string MetadataKey = LoraNetwork.MotionTuneMetadataKey;

    private sealed record Tuned(string Name, TorchSharp.Modules.Parameter Working, Tensor Original, Tensor Master);

    private readonly List<Tuned> _tuned;
    private readonly List<KeyValuePair<string, Tensor>> _trainable;
    private bool _active;
    private bool _disposed;

    /// <summary>Settings the customization was built with.</summary>
    public FullTuningSettings Settings { get; private set; }

    /// <inheritdoc />
    public string Method => "full";

    /// <inheritdoc />
    public int? Tau
    {
        get => Settings.Tau;
        set => Settings = Settings with { Tau = value };
    }

    /// <summary>Tuned module names, sorted.</summary>
    public IReadOnlyList<string> ModuleNames { get; }

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, Tensor>> TrainableTensors => _trainable;

    private FullParameterTuning(FullTuningSettings settings, List<Tuned> tuned, IReadOnlyList<string> modules, bool active)
    {
        Settings = settings;
        _tuned = tuned;
        _trainable = tuned.Select(t => KeyValuePair.Create(t.Name, t.Master)).ToList();
        ModuleNames = modules;
        _active = active;
    }

    /// <summary>
    /// Selects the <see cref="Linear"/> layers of <paramref name="model"/> that <paramref name="targets"/> matches; their
    /// weight and bias become the trainable tensors (float32 masters on the layer's device, equal to the weights now).
    /// </summary>
    /// <exception cref="ArgumentException">No layer matches.</exception>
    public static FullParameterTuning Attach(nn.Module model, LoraTargets targets, FullTuningSettings settings)
    {
        var layers = model.named_modules()
            .Where(m => m.module is Linear && targets.Matches(m.name))
            .Select(m => (m.name, Layer: (Linear)m.module))
            .OrderBy(m => m.name, StringComparer.Ordinal).ToList();
        if (layers.Count == 0)
            throw new ArgumentException($"Targets '{targets.Name}' match no Linear layer of {model.GetType().Name}.");
        foreach (var (name, layer) in layers)
            if (layer.Adapter is not null)
                throw new InvalidOperationException($"{name} has an adapter; tune the weights of a model without LoRA.");

        var tuned = new List<Tuned>();
        using (no_grad())
            foreach (var (name, layer) in layers)
                foreach (var (suffix, parameter) in Parts(layer))
                    tuned.Add(new Tuned($"{name}.{suffix}", parameter, parameter.detach().clone(),
                        parameter.detach().to(ScalarType.Float32, copy: true)));
        return new FullParameterTuning(settings with { Targets = targets.Name }, tuned, layers.Select(l => l.name).ToList(), active: true);
    }

    /// <summary>
    /// Loads tuned weights saved by <see cref="Save"/> onto <paramref name="model"/> (keys are the model's own parameter
    /// names, optionally prefixed <c>unet.</c> or <c>transformer.</c>) and switches them on.
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file has no weights, or they do not fit the model.</exception>
    public static FullParameterTuning Load(nn.Module model, string path)
    {
        using var file = SafeTensorsFile.Open(path);
        var settings = ReadSettings(file) ?? new FullTuningSettings { Targets = "(from file)" };
        var parameters = model.named_modules()
            .Where(m => m.module is Linear)
            .SelectMany(m => Parts((Linear)m.module).Select(p => (Name: $"{m.name}.{p.Suffix}", p.Parameter)))
            .ToDictionary(p => p.Name, p => p.Parameter);
        var problems = new List<string>();
        var found = new List<(string Name, string Key)>();
        foreach (var key in file.Entries.Keys.Order(StringComparer.Ordinal))
        {
            var name = new[] { "", "unet.", "transformer." }
                .Where(prefix => key.StartsWith(prefix, StringComparison.Ordinal))
                .Select(prefix => key[prefix.Length..]).FirstOrDefault(parameters.ContainsKey);
            if (name is null) { problems.Add($"{key}: no such Linear weight or bias in {model.GetType().Name}"); continue; }
            var shape = file.Entries[key].Shape;
            if (!shape.SequenceEqual(parameters[name].shape))
            {
                problems.Add($"{key}: shape [{string.Join(", ", shape)}], the model's is [{string.Join(", ", parameters[name].shape)}]");
                continue;
            }
            found.Add((name, key));
        }
        if (found.Count == 0 && problems.Count == 0) problems.Add("no tensors");
        if (problems.Count > 0)
            throw new CheckpointFormatException($"{path}: tuned weights do not fit {model.GetType().Name}:\n  " + string.Join("\n  ", problems.Take(12)));

        var tuned = new List<Tuned>();
        using (no_grad())
            foreach (var (name, key) in found.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                var working = parameters[name];
                tuned.Add(new Tuned(name, working, working.detach().clone(), file.Read(key, ScalarType.Float32, working.device)));
            }
        var modules = found.Select(f => f.Name[..f.Name.LastIndexOf('.')]).Distinct().Order(StringComparer.Ordinal).ToList();
        var result = new FullParameterTuning(settings, tuned, modules, active: false) { Active = true };
        return result;
    }

    /// <summary>
    /// Whether the model computes with the tuned weights (on) or its original ones (off). Each switch copies the whole
    /// targeted weights, so both states are exact.
    /// </summary>
    public bool Active
    {
        get => _active;
        set
        {
            if (value == _active) return;
            _active = value;
            using var _ = no_grad();
            foreach (var t in _tuned) t.Working.copy_(value ? t.Master : t.Original);
        }
    }

    /// <inheritdoc />
    public Tensor? Gradient(int index) => _tuned[index].Working.grad;

    /// <inheritdoc />
    public void ClearGradients()
    {
        foreach (var t in _tuned) t.Working.grad = null;
    }

    /// <inheritdoc />
    public void BeginTraining()
    {
        Active = true;
        foreach (var t in _tuned) t.Working.requires_grad = true;
    }

    /// <inheritdoc />
    public void PublishWeights()
    {
        if (!_active) return;
        using var _ = no_grad();
        foreach (var t in _tuned) t.Working.copy_(t.Master);
    }

    /// <inheritdoc />
    /// <remarks>Tuned weights have no dropout.</remarks>
    public void ReseedDropout(long seed) { }

    /// <inheritdoc />
    public void EndTraining() => ClearGradients();

    /// <summary>
    /// Saves the float32 tuned weights under the model's own parameter names (so
    /// <c>model.load_state_dict(load_file(path), strict=False)</c> applies them in diffusers), with
    /// <see cref="FullTuningSettings"/> as JSON under <see cref="MetadataKey"/>. Written atomically.
    /// </summary>
    public void Save(string path)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [MetadataKey] = JsonSerializer.Serialize(Settings, ConfigFile.JsonOptions),
        };
        SafeTensors.Save(path, _trainable, metadata);
    }

    /// <summary>Puts the original weights back (the model is then the base model again).</summary>
    public void Detach() => Active = false;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Detach();
        foreach (var t in _tuned)
        {
            t.Original.Dispose();
            t.Master.Dispose();
        }
    }

    private static IEnumerable<(string Suffix, TorchSharp.Modules.Parameter Parameter)> Parts(Linear layer)
    {
        yield return ("weight", layer.weight);
        if (layer.bias is not null) yield return ("bias", layer.bias);
    }

    private static FullTuningSettings? ReadSettings(SafeTensorsFile file)
    {
        if (!file.Metadata.TryGetValue(MetadataKey, out var json)) return null;
        try { return JsonSerializer.Deserialize<FullTuningSettings>(json, ConfigFile.JsonOptions); }
        catch (JsonException e) { throw new CheckpointFormatException($"{file.Path}: unreadable '{MetadataKey}' metadata: {e.Message}", e); }
    }
}
