using System.Text.Json.Nodes;
using MotionTune.Tests.Parity;

namespace MotionTune.Tests.Pipelines;

/// <summary>
/// Complete diffusers-layout pipeline folders assembled from the reference fixtures' parts: each architecture's tiny
/// denoiser, the matching VAE fixture, a tiny text encoder and tokenizer, and a fixture scheduler config.
/// </summary>
internal static class TinyPipelines
{
    /// <summary>ModelScope: unet3d + vae_kl + the clip_gelu text tower (CLIP tokenizer) + ModelScope's DDIM config.</summary>
    public static string ModelScope(string dir) =>
        Assemble(dir, "TextToVideoSDPipeline", "CLIPTextModel", ("unet", "UNet3DConditionModel", "unet3d"), ("vae", "AutoencoderKL", "vae_kl"),
            "scheduler_modelscope_ddim", "DDIMScheduler");

    /// <summary>Latte: latte + vae_kl + the t5_encoder fixture (T5 tokenizer) + a linear-beta DDIM config.</summary>
    public static string Latte(string dir) =>
        Assemble(dir, "LattePipeline", "T5EncoderModel", ("transformer", "LatteTransformer3DModel", "latte"), ("vae", "AutoencoderKL", "vae_kl"),
            "scheduler_linear_ddim", "DDIMScheduler");

    /// <summary>CogVideoX: cogvideox_sincos + vae_cogvideox + the t5_encoder fixture + CogVideoX-2b's scheduler config.</summary>
    public static string CogVideoX(string dir) =>
        Assemble(dir, "CogVideoXPipeline", "T5EncoderModel", ("transformer", "CogVideoXTransformer3DModel", "cogvideox_sincos"),
            ("vae", "AutoencoderKLCogVideoX", "vae_cogvideox"), "scheduler_cogvideox2b_ddim", "CogVideoXDDIMScheduler");

    private static string Assemble(string dir, string pipelineClass, string textEncoderClass, (string Name, string Class, string Case) denoiser,
        (string Name, string Class, string Case) vae, string schedulerCase, string schedulerClass)
    {
        TinyTextFolders.Pipeline(dir, textEncoderClass, pipelineClass);
        foreach (var (name, _, fixture) in new[] { denoiser, vae })
        {
            var target = Directory.CreateDirectory(Path.Combine(dir, name)).FullName;
            foreach (var file in new[] { "config.json", "diffusion_pytorch_model.safetensors" })
                File.Copy(Path.Combine(Fixtures.Root, fixture, file), Path.Combine(target, file), overwrite: true);
        }
        var scheduler = Directory.CreateDirectory(Path.Combine(dir, "scheduler")).FullName;
        var schedulerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Root, schedulerCase, "scheduler_config.json")))!.AsObject();
        schedulerConfig["_class_name"] = schedulerClass;
        File.WriteAllText(Path.Combine(scheduler, "scheduler_config.json"), schedulerConfig.ToJsonString());

        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model_index.json")))!.AsObject();
        index[denoiser.Name] = new JsonArray("diffusers", denoiser.Class);
        index[vae.Name] = new JsonArray("diffusers", vae.Class);
        index["scheduler"] = new JsonArray("diffusers", schedulerClass);
        File.WriteAllText(Path.Combine(dir, "model_index.json"), index.ToJsonString());
        return dir;
    }
}
