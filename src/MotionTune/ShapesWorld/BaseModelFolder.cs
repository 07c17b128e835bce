using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using MotionTune.IO;
using MotionTune.Models.TextEncoders;
using MotionTune.Pipelines;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// Writes a bundled base model as a diffusers pipeline folder that <see cref="VideoPipeline.FromPretrained"/> (and, for
/// its parts, diffusers and transformers) load: <c>model_index.json</c> with <c>"_motiontune_defaults"</c>,
/// <c>scheduler/</c>, <c>tokenizer/</c>, <c>text_encoder/</c> (a transformers <c>CLIPTextModel</c>) and <c>unet/</c> or
/// <c>transformer/</c>, weights in fp16 safetensors sharded at <see cref="MaxShardBytes"/>; <c>vae/</c> (float32) for a
/// latent-space model, none for a pixel-space one.
/// </summary>
public static class BaseModelFolder
{
    /// <summary>The largest weight file written (16 MiB), so every file of a bundled model stays small for the repository.</summary>
    public const long MaxShardBytes = 16L << 20;

    /// <summary>
    /// Writes the pipeline's files into <paramref name="folder"/> (which should be empty; the caller stages it). Weights
    /// are stored in <paramref name="storage"/> (fp16 by default), shards at most <paramref name="maxShardBytes"/>; the
    /// <paramref name="vae"/> of a latent-space spec in float32 (it is small, and its decoder draws the final pixels).
    /// </summary>
    public static void Write(string folder, BaseModelSpec spec, nn.Module denoiser, CLIPTextModel textEncoder, PipelineDefaults defaults,
        TrainingRecord? training = null, Models.Autoencoders.AutoencoderKL? vae = null, ScalarType storage = ScalarType.Float16,
        long maxShardBytes = MaxShardBytes)
    {
        if ((spec.Vae is null) != (vae is null))
            throw new ArgumentException(spec.Vae is null ? "A pixel-space spec takes no VAE." : "A latent-space spec needs its VAE.", nameof(vae));
        Directory.CreateDirectory(folder);
        var index = new JsonObject
        {
            ["_class_name"] = spec.PipelineClass,
            ["_diffusers_version"] = "0.32.0",
            ["_motiontune_defaults"] = new JsonObject
            {
                ["frames"] = defaults.Frames, ["height"] = defaults.Height, ["width"] = defaults.Width,
                ["steps"] = defaults.Steps, ["guidance_scale"] = defaults.GuidanceScale,
            },
            ["_motiontune_training"] = training?.ToJson(),
            ["scheduler"] = new JsonArray("diffusers", spec.Scheduler.ClassName),
            ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            [spec.DenoiserComponent] = new JsonArray("diffusers", spec.DenoiserClass),
            ["vae"] = vae is null ? new JsonArray(null, null) : new JsonArray("diffusers", "AutoencoderKL"),
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "model_index.json"), index.ToJsonString(ConfigFile.JsonOptions));

        var scheduler = Directory.CreateDirectory(Path.Combine(folder, "scheduler")).FullName;
        AtomicFile.WriteAllText(Path.Combine(scheduler, "scheduler_config.json"), ConfigJson(spec.Scheduler, spec.Scheduler.ClassName).ToJsonString(ConfigFile.JsonOptions));

        ShapesTokenizer.Write(Path.Combine(folder, "tokenizer"), spec.MaxLength);

        var text = Directory.CreateDirectory(Path.Combine(folder, "text_encoder")).FullName;
        var textConfig = ConfigJson(spec.TextConfig, null);
        textConfig.Insert(0, "architectures", new JsonArray("CLIPTextModel"));
        textConfig["model_type"] = "clip_text_model";
        textConfig["torch_dtype"] = storage == ScalarType.BFloat16 ? "bfloat16" : "float16";
        AtomicFile.WriteAllText(Path.Combine(text, "config.json"), textConfig.ToJsonString(ConfigFile.JsonOptions));
        SaveWeights(textEncoder, text, "model", storage, maxShardBytes);

        var model = Directory.CreateDirectory(Path.Combine(folder, spec.DenoiserComponent)).FullName;
        AtomicFile.WriteAllText(Path.Combine(model, "config.json"), ConfigJson(spec.DenoiserConfig, spec.DenoiserClass).ToJsonString(ConfigFile.JsonOptions));
        SaveWeights(denoiser, model, "diffusion_pytorch_model", storage, maxShardBytes);

        if (vae is not null)
        {
            var vaeFolder = Directory.CreateDirectory(Path.Combine(folder, "vae")).FullName;
            AtomicFile.WriteAllText(Path.Combine(vaeFolder, "config.json"), ConfigJson(vae.Config, "AutoencoderKL").ToJsonString(ConfigFile.JsonOptions));
            SaveWeights(vae, vaeFolder, "diffusion_pytorch_model", ScalarType.Float32, maxShardBytes);
        }
    }

    /// <summary>
    /// A config as its <c>config.json</c> object: every settable property in snake_case (the runtime type's, so
    /// subclasses such as <see cref="Schedulers.CogVideoXDdimSchedulerConfig"/> keep their own keys), computed
    /// properties left out, nulls omitted, with <c>_class_name</c> first when given.
    /// </summary>
    public static JsonObject ConfigJson(ModelConfig config, string? className)
    {
        var node = JsonSerializer.SerializeToNode(config, config.GetType(), ConfigFile.JsonOptions)!.AsObject();
        var settable = config.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.Name != nameof(ModelConfig.ExtraKeys))
            .Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var key in node.Select(p => p.Key).ToList())
            if (!settable.Contains(key)) node.Remove(key);
        if (className is not null) node.Insert(0, "_class_name", className);
        return node;
    }

    /// <summary>
    /// Loads a base-model folder's denoiser and text-encoder weights into freshly built modules of
    /// <paramref name="spec"/>, for continued training, and returns the training the folder records. The folder's
    /// configs (denoiser, text encoder, scheduler) must be the spec's: continuing under another schedule or shape would
    /// silently train a different model.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="InvalidDataException">The folder is not a base model of this spec.</exception>
    public static TrainingRecord LoadForContinuation(string folder, BaseModelSpec spec, nn.Module denoiser, CLIPTextModel textEncoder)
    {
        var root = Path.GetFullPath(folder);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"--init-from: no folder {root}.");
        void Same(string relative, JsonObject expected)
        {
            var path = Path.Combine(root, relative);
            if (!File.Exists(path)) throw new InvalidDataException($"--init-from: {path} is missing; {root} is not a {BaseModels.Name(spec.Architecture)} base-model folder.");
            var actual = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"{path} is empty.");
            foreach (var (key, value) in expected)
                if (!JsonNode.DeepEquals(actual[key], value))
                    throw new InvalidDataException($"--init-from: {path} has {key} = {actual[key]?.ToJsonString() ?? "(none)"}, this model's spec has " +
                        $"{value?.ToJsonString() ?? "(none)"}; only a folder trained from the same spec can be continued.");
        }
        Same(Path.Combine(spec.DenoiserComponent, "config.json"), ConfigJson(spec.DenoiserConfig, spec.DenoiserClass));
        Same(Path.Combine("text_encoder", "config.json"), ConfigJson(spec.TextConfig, null));
        Same(Path.Combine("scheduler", "scheduler_config.json"), ConfigJson(spec.Scheduler, spec.Scheduler.ClassName));
        if (spec.Vae is not null) Same(Path.Combine("vae", "config.json"), ConfigJson(spec.Vae, "AutoencoderKL"));
        StateDictLoader.LoadFolder(denoiser, Path.Combine(root, spec.DenoiserComponent));
        StateDictLoader.LoadFolder(textEncoder, Path.Combine(root, "text_encoder"), Pretrained.ClipLoadOptions);
        return TrainingRecord.Read(root);
    }

    /// <summary>Total bytes of a folder's files (what the repository stores).</summary>
    public static long SizeOnDisk(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    internal static void SaveWeights(nn.Module module, string folder, string stem, ScalarType storage, long maxShardBytes)
    {
        using var scope = NewDisposeScope();
        var tensors = module.state_dict()
            .Select(p => KeyValuePair.Create(p.Key, p.Value.detach().to(p.Value.is_floating_point() ? storage : p.Value.dtype).cpu()))
            .ToList();
        ShardedSafeTensors.Save(folder, stem, tensors, maxShardBytes, new Dictionary<string, string> { ["format"] = "pt" });
    }
}

/// <summary>
/// How much training a base-model folder has had, over all runs that built it (<c>"_motiontune_training"</c> in
/// model_index.json): optimizer steps, clips drawn, minutes of the training loop, and runs.
/// </summary>
public sealed record TrainingRecord(long Steps, long Clips, double Minutes, int Runs)
{
    /// <summary>No training.</summary>
    public static TrainingRecord None { get; } = new(0, 0, 0, 0);

    /// <summary>This record followed by a run of <paramref name="steps"/> steps at <paramref name="batch"/> clips over <paramref name="minutes"/>.</summary>
    public TrainingRecord Then(long steps, int batch, double minutes) => new(Steps + steps, Clips + steps * batch, Minutes + minutes, Runs + 1);

    /// <summary>The JSON object written to model_index.json.</summary>
    public JsonObject ToJson() => new() { ["steps"] = Steps, ["clips"] = Clips, ["minutes"] = Math.Round(Minutes, 2), ["runs"] = Runs };

    /// <summary>
    /// A folder's record; a folder without one counts as untrained here (the card of a folder written before records
    /// existed still names its training).
    /// </summary>
    public static TrainingRecord Read(string folder)
    {
        var path = Path.Combine(folder, "model_index.json");
        var index = JsonNode.Parse(File.ReadAllText(path))?.AsObject();
        if (index?["_motiontune_training"] is not JsonObject o) return None;
        try
        {
            return new TrainingRecord((long)o["steps"]!, (long)o["clips"]!, (double)o["minutes"]!, (int)o["runs"]!);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: \"_motiontune_training\" needs numbers steps, clips, minutes and runs ({e.Message}).");
        }
    }
}
