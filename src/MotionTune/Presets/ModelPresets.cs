namespace MotionTune.Presets;

/// <summary>
/// Configs of the published full-size models (reconstructed <c>config.json</c> files), shipped next to the
/// application in <c>presets/</c>. Used to build full-size models with random weights (benchmarks, shape checks)
/// where the real checkpoints are not at hand.
/// </summary>
public static class ModelPresets
{
    /// <summary>Latte-1's transformer (maxin0chen/Latte-1).</summary>
    public const string Latte1Transformer = "latte1_transformer_config.json";

    /// <summary>ModelScope text-to-video's UNet3DConditionModel (damo-vilab/text-to-video-ms-1.7b, <c>unet/</c>).</summary>
    public const string ModelScopeUNet = "modelscope_unet_config.json";

    /// <summary>The Stable Diffusion KL VAE (stabilityai/sd-vae-ft-mse; ModelScope's <c>vae/</c> has the same architecture).</summary>
    public const string StableDiffusionVae = "sd_vae_ft_mse_config.json";

    /// <summary>CogVideoX-2b's transformer (THUDM/CogVideoX-2b, sin-cos positions).</summary>
    public const string CogVideoX2bTransformer = "cogvideox2b_transformer_config.json";

    /// <summary>CogVideoX-5b's transformer (THUDM/CogVideoX-5b, rotary positions).</summary>
    public const string CogVideoX5bTransformer = "cogvideox5b_transformer_config.json";

    /// <summary>CogVideoX-2b's VAE (THUDM/CogVideoX-2b; 5b's differs only in scaling_factor 0.7).</summary>
    public const string CogVideoX2bVae = "cogvideox2b_vae_config.json";

    /// <summary>ModelScope's scheduler (damo-vilab/text-to-video-ms-1.7b, <c>scheduler/</c>: DDIM, scaled_linear, ε).</summary>
    public const string ModelScopeScheduler = "modelscope_scheduler_config.json";

    /// <summary>CogVideoX-2b's scheduler (CogVideoXDDIMScheduler: v-prediction, zero terminal SNR, SNR shift 3).</summary>
    public const string CogVideoX2bScheduler = "cogvideox2b_scheduler_config.json";

    /// <summary>The OpenCLIP ViT-H text tower ModelScope ships as its <c>text_encoder/</c> (transformers CLIPTextModel, 23 layers).</summary>
    public const string OpenClipHText = "openclip_h_text_config.json";

    /// <summary>The T5 v1.1 XXL encoder (google/t5-v1_1-xxl), Latte's and CogVideoX's <c>text_encoder/</c>.</summary>
    public const string T5XxlEncoder = "t5_v1_1_xxl_encoder_config.json";

    /// <summary>The folder holding the preset files.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "presets");

    /// <summary>The path of a preset file, checked to exist.</summary>
    public static string PathOf(string name)
    {
        var path = Path.Combine(Folder, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"Model preset {name} is missing from {Folder}.", path);
    }
}
