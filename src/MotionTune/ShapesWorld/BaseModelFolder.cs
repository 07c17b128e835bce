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
/// <c>transformer/</c>, weights in fp16 safetensors sharded at <see cref="MaxShardBytes"/>. No <c>vae/</c>: the denoiser
/// works on pixels.
/// </summary>
public static class BaseModelFolder
{
    /// <summary>The largest weight file written (16 MiB), so every file of a bundled model stays small for the repository.</summary>
    public const long MaxShardBytes = 16L << 20;

    /// <summary>
    /// Writes the pipeline's files into <paramref name="folder"/> (which should be empty; the caller stages it). Weights
    /// are stored in <paramref name="storage"/> (fp16 by default), shards at most <paramref name="maxShardBytes"/>.
    /// </summary>
    public static void Write(string folder, BaseModelSpec spec, nn.Module denoiser, CLIPTextModel textEncoder, PipelineDefaults defaults,
        ScalarType storage = ScalarType.Float16, long maxShardBytes = MaxShardBytes)
    {
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
            ["scheduler"] = new JsonArray("diffusers", spec.Scheduler.ClassName),
            ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            [spec.DenoiserComponent] = new JsonArray("diffusers", spec.DenoiserClass),
            ["vae"] = new JsonArray(null, null),
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

    /// <summary>Total bytes of a folder's files (what the repository stores).</summary>
    public static long SizeOnDisk(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    private static void SaveWeights(nn.Module module, string folder, string stem, ScalarType storage, long maxShardBytes)
    {
        using var scope = NewDisposeScope();
        var tensors = module.state_dict()
            .Select(p => KeyValuePair.Create(p.Key, p.Value.detach().to(p.Value.is_floating_point() ? storage : p.Value.dtype).cpu()))
            .ToList();
        ShardedSafeTensors.Save(folder, stem, tensors, maxShardBytes, new Dictionary<string, string> { ["format"] = "pt" });
    }
}
