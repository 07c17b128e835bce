using System.Text.Json;
using MotionTune.IO;
using MotionTune.Models.Layers;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>What a LoRA was trained as; stored in the file's metadata.</summary>
public sealed record LoraSettings
{
    /// <summary>Rank r.</summary>
    public int Rank { get; init; } = 4;
    /// <summary>alpha (scaling = alpha / r).</summary>
    public double Alpha { get; init; } = 4;
    /// <summary>Dropout on the adapter input during training.</summary>
    public double Dropout { get; init; }
    /// <summary>Target preset name or pattern.</summary>
    public string Targets { get; init; } = "temporal-qkvo";
    /// <summary>The boundary timestep: the adapter acts only at t ≥ tau. Null when unknown (e.g. a foreign file).</summary>
    public int? Tau { get; init; }
    /// <summary>The base model the adapter was trained on (a path or a hub id), if known.</summary>
    public string? BaseModel { get; init; }
    /// <summary>Architecture, if known.</summary>
    public Architecture? Architecture { get; init; }
}

/// <summary>
/// A set of <see cref="LoraAdapter"/>s attached to the targeted <see cref="Linear"/> layers of a model. The adapters
/// live outside the model's own state dict; their keys are the peft/diffusers names
/// (<c>&lt;module&gt;.lora_A.weight</c>, <c>&lt;module&gt;.lora_B.weight</c>).
/// </summary>
public sealed class LoraNetwork : ICustomization
{
    /// <summary>Metadata key diffusers uses for the adapter's LoraConfig.</summary>
    public const string DiffusersMetadataKey = "lora_adapter_metadata";
    /// <summary>Metadata key of MotionTune's own settings.</summary>
    public const string MotionTuneMetadataKey = "motiontune";

    private readonly Dictionary<string, (Linear Layer, LoraAdapter Adapter)> _layers;
    private Dictionary<string, Tensor>? _mergedOriginals;
    private bool _active = true;
    private readonly List<KeyValuePair<string, Tensor>> _trainable;
    private Generator? _dropoutGenerator;
    private FlatParameters? _packed;

    /// <summary>Settings the network was built with.</summary>
    public LoraSettings Settings { get; private set; }

    /// <inheritdoc />
    public string Method => "lora";

    /// <inheritdoc />
    public int? Tau
    {
        get => Settings.Tau;
        set => Settings = Settings with { Tau = value };
    }

    /// <summary>True while <see cref="Merge"/> is in effect.</summary>
    public bool IsMerged => _mergedOriginals is not null;

    /// <summary>Targeted module names, sorted.</summary>
    public IReadOnlyList<string> ModuleNames => _layers.Keys.Order(StringComparer.Ordinal).ToList();

    private LoraNetwork(LoraSettings settings, Dictionary<string, (Linear, LoraAdapter)> layers)
    {
        Settings = settings;
        _layers = layers;
        // Modules start in training mode; adapters sample in inference mode (no dropout) until training begins.
        foreach (var (_, adapter) in _layers.Values) adapter.eval();
        _trainable = StateDict().ToList();
    }

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, Tensor>> TrainableTensors => _trainable;

    /// <inheritdoc />
    public Tensor? Gradient(int index) => _trainable[index].Value.grad;

    /// <inheritdoc />
    public void ClearGradients()
    {
        if (_packed is not null) _packed.ZeroGradients();
        else foreach (var (_, tensor) in _trainable) tensor.grad = null;
    }

    /// <inheritdoc />
    /// <remarks>Packed on the first call to <see cref="BeginTraining"/>, when all adapters share a dtype and device.</remarks>
    public FlatParameters? Packed => _packed;

    /// <inheritdoc />
    /// <remarks>
    /// The first call packs the adapter weights into one flat buffer (<see cref="FlatParameters"/>; values unchanged), so
    /// the optimizer updates them all at once; later calls only attach the gradient slices again.
    /// </remarks>
    public void BeginTraining()
    {
        Unmerge();
        Active = true;
        foreach (var (_, adapter) in _layers.Values) adapter.train();
        foreach (var (_, tensor) in _trainable) tensor.requires_grad = true;
        if (_packed is null) _packed = FlatParameters.TryPack(_trainable.Select(p => p.Value).ToList());
        else _packed.AttachGradients();
    }

    /// <inheritdoc />
    /// <remarks>The adapters compute from their parameters directly, so there is nothing to copy.</remarks>
    public void PublishWeights() { }

    /// <inheritdoc />
    public void EndTraining()
    {
        _packed?.DetachGradients();
        foreach (var (_, adapter) in _layers.Values)
        {
            adapter.eval();
            adapter.DropoutGenerator = null;
        }
        _dropoutGenerator?.Dispose();
        _dropoutGenerator = null;
    }

    /// <inheritdoc />
    public void ReseedDropout(long seed)
    {
        if (Settings.Dropout <= 0) return;
        _dropoutGenerator?.Dispose();
        _dropoutGenerator = new Generator((ulong)seed, _trainable[0].Value.device);
        foreach (var (_, adapter) in _layers.Values) adapter.DropoutGenerator = _dropoutGenerator;
    }

    /// <summary>
    /// Attaches fresh adapters to every <see cref="Linear"/> of <paramref name="model"/> whose name
    /// <paramref name="targets"/> matches. Adapters are created on the layer's device in <paramref name="adapterDtype"/>
    /// (float32 by default, so training stays in fp32 on a bf16 base). With a <paramref name="generator"/> (a CPU one),
    /// every <c>lora_A</c> is drawn from it, in module-name order, instead of from torch's global generator.
    /// </summary>
    /// <exception cref="ArgumentException">No layer matches.</exception>
    public static LoraNetwork Attach(nn.Module model, LoraTargets targets, LoraSettings settings, ScalarType adapterDtype = ScalarType.Float32,
        Generator? generator = null)
    {
        var layers = new Dictionary<string, (Linear, LoraAdapter)>();
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not Linear linear || !targets.Matches(name)) continue;
            if (linear.Adapter is not null)
                throw new InvalidOperationException($"{name} already has an adapter; detach it before attaching another.");
            LoraAdapter adapter;
            using (ParameterFactory.Scope(linear.weight.device, adapterDtype, initialize: true))
                adapter = new LoraAdapter(linear.InFeatures, linear.OutFeatures, settings.Rank, settings.Alpha, settings.Dropout);
            linear.Adapter = adapter;
            layers[name] = (linear, adapter);
        }
        if (layers.Count == 0)
            throw new ArgumentException($"LoRA targets '{targets.Name}' match no Linear layer of {model.GetType().Name}.");
        if (generator is not null)
            foreach (var name in layers.Keys.Order(StringComparer.Ordinal))
            {
                var adapter = layers[name].Item2;
                using var cpu = empty(adapter.lora_A.weight.shape, adapter.lora_A.weight.dtype);
                double bound = 1.0 / Math.Sqrt(adapter.lora_A.InFeatures);
                using (no_grad()) adapter.lora_A.weight.copy_(cpu.uniform_(-bound, bound, generator));
            }
        return new LoraNetwork(settings with { Targets = targets.Name }, layers);
    }

    /// <summary>The adapters' trainable parameters.</summary>
    public IEnumerable<Parameter> Parameters() =>
        _layers.Values.SelectMany(l => new[] { l.Adapter.lora_A.weight, l.Adapter.lora_B.weight });

    /// <summary>The adapters in peft key naming.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, (_, adapter)) in _layers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            state[$"{name}.lora_A.weight"] = adapter.lora_A.weight;
            state[$"{name}.lora_B.weight"] = adapter.lora_B.weight;
        }
        return state;
    }

    /// <summary>
    /// Whether the adapters act. Switching is cheap: with <see cref="Merge"/> in effect it restores or re-merges the
    /// targeted weights; otherwise it flips the adapters' separate path on or off.
    /// </summary>
    public bool Active
    {
        get => _active;
        set
        {
            if (value == _active) return;
            _active = value;
            if (_mergedOriginals is not null)
            {
                using var _ = no_grad();
                foreach (var (name, (layer, adapter)) in _layers)
                {
                    if (value) layer.weight.add_(adapter.DeltaWeight(layer.weight.dtype));
                    else layer.weight.copy_(_mergedOriginals[name]);
                }
            }
            else
            {
                foreach (var (_, adapter) in _layers.Values) adapter.Enabled = value;
            }
        }
    }

    /// <summary>
    /// Folds the adapters into the targeted weights (W += (alpha/r)·B A) for inference speed. The original weights are
    /// kept, so turning <see cref="Active"/> off restores them exactly (no bf16 round-off from subtracting the update).
    /// </summary>
    public void Merge()
    {
        if (_mergedOriginals is not null) return;
        using var _ = no_grad();
        _mergedOriginals = [];
        foreach (var (name, (layer, adapter)) in _layers)
        {
            _mergedOriginals[name] = layer.weight.detach().clone();
            adapter.Enabled = false;
            if (_active) layer.weight.add_(adapter.DeltaWeight(layer.weight.dtype));
        }
    }

    /// <summary>Undoes <see cref="Merge"/>: original weights back, adapters on their separate path.</summary>
    public void Unmerge()
    {
        if (_mergedOriginals is null) return;
        using (no_grad())
            foreach (var (name, (layer, adapter)) in _layers)
            {
                layer.weight.copy_(_mergedOriginals[name]);
                _mergedOriginals[name].Dispose();
                adapter.Enabled = _active;
            }
        _mergedOriginals = null;
    }

    /// <summary>
    /// Saves the adapters as a diffusers-compatible LoRA file: keys <c>{prefix}.{module}.lora_A.weight</c> (prefix
    /// <c>unet</c> or <c>transformer</c>, as diffusers pipelines write them), the LoraConfig under
    /// <see cref="DiffusersMetadataKey"/>, and MotionTune's settings (rank, alpha, targets, tau, base model) under
    /// <see cref="MotionTuneMetadataKey"/>. Written atomically.
    /// </summary>
    public void Save(string path, string? componentPrefix = null)
    {
        var prefix = componentPrefix ?? DefaultPrefix(Settings.Architecture);
        var tensors = StateDict().Select(p => KeyValuePair.Create(prefix.Length > 0 ? $"{prefix}.{p.Key}" : p.Key, p.Value));
        var loraConfig = new SortedDictionary<string, object?>
        {
            ["r"] = Settings.Rank,
            ["lora_alpha"] = Settings.Alpha,
            ["lora_dropout"] = Settings.Dropout,
            ["target_modules"] = ModuleNames,
            ["init_lora_weights"] = true,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["bias"] = "none",
        };
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [DiffusersMetadataKey] = JsonSerializer.Serialize(loraConfig, new JsonSerializerOptions { WriteIndented = true }),
            [MotionTuneMetadataKey] = JsonSerializer.Serialize(Settings, ConfigFile.JsonOptions),
        };
        SafeTensors.Save(path, tensors, metadata);
    }

    void ICustomization.Save(string path) => Save(path);

    /// <summary>
    /// Loads a LoRA file onto <paramref name="model"/>: ours, or a diffusers / peft one (keys with or without a
    /// <c>unet.</c> / <c>transformer.</c> / <c>base_model.model.</c> prefix; <c>lora_A</c>/<c>lora_B</c> or
    /// <c>lora_down</c>/<c>lora_up</c> names). Rank comes from the tensors; alpha from <paramref name="alpha"/> when
    /// given, else the file's metadata, else a peft <c>adapter_config.json</c> beside the file, else per-module
    /// <c>.alpha</c> tensors, else alpha = rank.
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file has no LoRA tensors, or they do not fit the model.</exception>
    public static LoraNetwork Load(nn.Module model, string path, ScalarType adapterDtype = ScalarType.Float32, double? alpha = null)
    {
        using var file = SafeTensorsFile.Open(path);
        var settings = ReadSettings(file) ?? ReadPeftAdapterConfig(path);
        if (alpha is double given) settings = (settings ?? new LoraSettings { Targets = "(from file)" }) with { Alpha = given };
        var pairs = new Dictionary<string, (string? A, string? B, string? Alpha)>();
        foreach (var key in file.Entries.Keys)
        {
            var (module, part) = SplitLoraKey(key);
            if (module is null) continue;
            var entry = pairs.GetValueOrDefault(module);
            pairs[module] = part switch
            {
                "A" => entry with { A = key },
                "B" => entry with { B = key },
                _ => entry with { Alpha = key },
            };
        }
        if (pairs.Count == 0) throw new CheckpointFormatException($"{path}: no LoRA tensors (expected keys ending in lora_A.weight / lora_B.weight).");

        var linears = model.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name, m => (Linear)m.module);
        var problems = new List<string>();
        var resolved = new Dictionary<string, (Linear Layer, string A, string B, string? Alpha)>();
        foreach (var (module, (a, b, alphaTensor)) in pairs)
        {
            var name = ResolveModuleName(module, linears);
            if (name is null) { problems.Add($"{module}: no such Linear layer in {model.GetType().Name}"); continue; }
            if (a is null || b is null) { problems.Add($"{module}: needs both lora_A and lora_B"); continue; }
            var layer = linears[name];
            var shapeA = file.Entries[a].Shape;
            var shapeB = file.Entries[b].Shape;
            if (shapeA.Length != 2 || shapeB.Length != 2 || shapeA[1] != layer.InFeatures || shapeB[0] != layer.OutFeatures || shapeA[0] != shapeB[1])
            {
                problems.Add($"{module}: lora_A [{string.Join(", ", shapeA)}], lora_B [{string.Join(", ", shapeB)}] do not fit a {layer.InFeatures}->{layer.OutFeatures} layer");
                continue;
            }
            resolved[name] = (layer, a, b, alphaTensor);
        }
        if (problems.Count > 0)
            throw new CheckpointFormatException($"{path}: LoRA does not fit {model.GetType().Name}:\n  " + string.Join("\n  ", problems.Take(12)));

        int rank = (int)file.Entries[resolved.Values.First().A].Shape[0];
        var layers = new Dictionary<string, (Linear, LoraAdapter)>();
        foreach (var (name, (layer, a, b, alphaKey)) in resolved)
        {
            int r = (int)file.Entries[a].Shape[0];
            double layerAlpha = settings?.Alpha ?? (alphaKey is not null ? file.Read(alphaKey).to(ScalarType.Float64).item<double>() : r);
            if (layer.Adapter is not null) throw new InvalidOperationException($"{name} already has an adapter.");
            LoraAdapter adapter;
            using (ParameterFactory.Scope(layer.weight.device, adapterDtype, initialize: false))
                adapter = new LoraAdapter(layer.InFeatures, layer.OutFeatures, r, layerAlpha);
            using (no_grad())
            {
                adapter.lora_A.weight.copy_(file.Read(a));
                adapter.lora_B.weight.copy_(file.Read(b));
            }
            layer.Adapter = adapter;
            layers[name] = (layer, adapter);
        }
        settings ??= new LoraSettings { Rank = rank, Alpha = layers.Values.First().Item2.Scaling * rank, Targets = "(from file)" };
        return new LoraNetwork(settings, layers);
    }

    /// <summary>Removes the adapters from the model (restoring merged weights first).</summary>
    public void Detach()
    {
        Unmerge();
        foreach (var (layer, _) in _layers.Values) layer.Adapter = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Detach();
        _packed?.Dispose();
        _dropoutGenerator?.Dispose();
        foreach (var (_, adapter) in _layers.Values) adapter.Dispose();
    }

    private static string DefaultPrefix(Architecture? architecture) => architecture switch
    {
        Customization.Architecture.ModelScope => "unet",
        Customization.Architecture.Latte or Customization.Architecture.CogVideoX => "transformer",
        _ => "",
    };

    private static LoraSettings? ReadSettings(SafeTensorsFile file)
    {
        if (file.Metadata.TryGetValue(MotionTuneMetadataKey, out var ours))
        {
            try { return JsonSerializer.Deserialize<LoraSettings>(ours, ConfigFile.JsonOptions); }
            catch (JsonException e) { throw new CheckpointFormatException($"{file.Path}: unreadable '{MotionTuneMetadataKey}' metadata: {e.Message}", e); }
        }
        if (file.Metadata.TryGetValue(DiffusersMetadataKey, out var theirs))
        {
            try
            {
                using var doc = JsonDocument.Parse(theirs);
                var root = doc.RootElement;
                if (root.TryGetProperty("r", out var r) && root.TryGetProperty("lora_alpha", out var alpha))
                    return new LoraSettings { Rank = r.GetInt32(), Alpha = alpha.GetDouble(), Targets = "(from file)" };
            }
            catch (JsonException) { /* foreign metadata we can't read: fall back to the tensors */ }
        }
        return null;
    }

    /// <summary>peft saves <c>adapter_config.json</c> (r, lora_alpha) beside <c>adapter_model.safetensors</c>.</summary>
    private static LoraSettings? ReadPeftAdapterConfig(string weightsPath)
    {
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, "adapter_config.json");
        if (!File.Exists(configPath)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
            var root = doc.RootElement;
            return root.TryGetProperty("r", out var r) && root.TryGetProperty("lora_alpha", out var a)
                ? new LoraSettings { Rank = r.GetInt32(), Alpha = a.GetDouble(), Targets = "(from adapter_config.json)" }
                : null;
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"{configPath}: not a valid peft adapter config: {e.Message}", e);
        }
    }

    private static (string? Module, string? Part) SplitLoraKey(string key)
    {
        foreach (var (suffix, part) in new[] { (".lora_A.weight", "A"), (".lora_B.weight", "B"), (".lora_down.weight", "A"), (".lora_up.weight", "B"), (".alpha", "alpha") })
            if (key.EndsWith(suffix, StringComparison.Ordinal)) return (key[..^suffix.Length], part);
        return (null, null);
    }

    private static string? ResolveModuleName(string module, IReadOnlyDictionary<string, Linear> linears)
    {
        foreach (var prefix in new[] { "", "base_model.model.", "unet.", "transformer.", "unet.base_model.model.", "transformer.base_model.model." })
            if (module.StartsWith(prefix, StringComparison.Ordinal) && linears.ContainsKey(module[prefix.Length..]))
                return module[prefix.Length..];
        return null;
    }
}
