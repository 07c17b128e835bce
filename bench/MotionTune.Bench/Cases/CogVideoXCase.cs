using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Pipelines;
using MotionTune.Presets;
using static TorchSharp.torch;

namespace MotionTune.Bench.Cases;

/// <summary>
/// CogVideoX at 17 x 480 x 480: latents 5 x 16 x 60 x 60 (diffusers' (B, F, C, H, W) layout), T5 text 226 x 4096.
/// 2b by default; 5b (rotary positions, computed as the pipeline does) with <see cref="ModelPresets.CogVideoX5bTransformer"/>.
/// </summary>
public sealed class CogVideoXCase(string preset = ModelPresets.CogVideoX2bTransformer) : BenchCase
{
    private const int Frames = 5, Height = 60, Width = 60; // latents of 17 frames at 480 x 480

    private sealed record Batch(Tensor Latents, Tensor Timesteps, Tensor Text, (Tensor Cos, Tensor Sin)? Rotary);

    private readonly CogVideoXTransformer3DConfig _config = ConfigFile.Load<CogVideoXTransformer3DConfig>(ModelPresets.PathOf(preset));

    /// <inheritdoc />
    public override string Name => $"CogVideoX-{(_config.NumLayers == 42 ? "5b" : "2b")}";
    /// <inheritdoc />
    public override string Shapes => "17 x 480 x 480 (latents 5x16x60x60, text 226x4096)";
    /// <inheritdoc />
    public override Architecture Architecture => Architecture.CogVideoX;

    /// <inheritdoc />
    public override nn.Module Build(Device device, ScalarType dtype)
    {
        using (ParameterFactory.Scope(device, dtype, initialize: true)) return new CogVideoXTransformer3DModel(_config);
    }

    /// <inheritdoc />
    public override object Inputs(int batch, Device device, ScalarType dtype) => new Batch(
        randn([batch, Frames, 16, Height, Width], dtype, device),
        randint(0, 1000, [batch], ScalarType.Int64, device),
        randn([batch, 226, 4096], dtype, device),
        _config.UseRotaryPositionalEmbeddings
            ? CogVideoXPositions.RotaryForPipeline(_config, Height * 8, Width * 8, Frames, device: device)
            : null);

    /// <inheritdoc />
    public override Tensor Forward(nn.Module model, object inputs)
    {
        var b = (Batch)inputs;
        return ((CogVideoXTransformer3DModel)model).forward(b.Latents, b.Text, b.Timesteps, b.Rotary);
    }

    /// <inheritdoc />
    public override IVideoDenoiser Denoiser(nn.Module model) => new CogVideoXDenoiser((CogVideoXTransformer3DModel)model, 8);

    /// <inheritdoc />
    public override Tensor Predict(IVideoDenoiser denoiser, object inputs)
    {
        // The sampler's latents are (B, C, F, H, W); the denoiser permutes them to the transformer's (B, F, C, H, W) and back.
        var b = (Batch)inputs;
        using var latents = b.Latents.permute(0, 2, 1, 3, 4);
        using var output = denoiser.Predict(latents, b.Timesteps, new TextCondition(b.Text));
        return output.permute(0, 2, 1, 3, 4);
    }

    /// <inheritdoc />
    public override Dictionary<string, double> Extras(Device device, int warmup, int runs, Action<string> log)
    {
        log($"{Name}: timing the VAE decode of one video");
        var (time, peak) = MeasureVaeDecode(device, 1, Math.Max(3, runs / 3));
        return new() { ["vae_decode_ms (17x480x480, CogVideoX-2b VAE)"] = time.Median, ["vae_decode_peak_gib"] = peak.GiB };
    }

    /// <summary>
    /// Decode time (median ms) and peak memory of these latents (1 x 16 x 5 x 60 x 60 → 17 x 480 x 480) through the
    /// CogVideoX-2b VAE with random bf16 weights, frame-batched as diffusers does, with or without spatial tiling.
    /// </summary>
    public static (Timing Time, MemoryPeak Peak) MeasureVaeDecode(Device device, int warmup, int runs, bool tiling = false)
    {
        var config = ConfigFile.Load<AutoencoderKLCogVideoXConfig>(ModelPresets.PathOf(ModelPresets.CogVideoX2bVae));
        AutoencoderKLCogVideoX vae;
        using (ParameterFactory.Scope(device, ScalarType.BFloat16, initialize: true)) vae = new AutoencoderKLCogVideoX(config);
        using (vae)
        using (inference_mode())
        {
            vae.eval();
            vae.UseTiling = tiling;
            var latents = randn([1, 16, Frames, Height, Width], ScalarType.BFloat16, device);
            var time = Measure.Time(device, () => vae.DecodeVideo(latents).Dispose(), warmup, runs);
            var peak = Measure.PeakMemory(device, () => vae.DecodeVideo(latents).Dispose());
            return (time, peak);
        }
    }
}
