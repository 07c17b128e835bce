using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Presets;
using MotionTune.Pipelines;
using static TorchSharp.torch;

namespace MotionTune.Bench.Cases;

/// <summary>Latte-1 at 16 x 512 x 512: latents 4 x 16 x 64 x 64, T5 text 120 x 4096.</summary>
public sealed class LatteCase : BenchCase
{
    private sealed record Batch(Tensor Latents, Tensor Timesteps, Tensor Text);

    /// <inheritdoc />
    public override string Name => "Latte-1";
    /// <inheritdoc />
    public override string Shapes => "16 x 512 x 512 (latents 4x16x64x64, text 120x4096)";
    /// <inheritdoc />
    public override Architecture Architecture => Architecture.Latte;

    /// <inheritdoc />
    public override nn.Module Build(Device device, ScalarType dtype)
    {
        var config = ConfigFile.Load<LatteTransformer3DConfig>(ModelPresets.PathOf(ModelPresets.Latte1Transformer));
        using (ParameterFactory.Scope(device, dtype, initialize: true)) return new LatteTransformer3DModel(config);
    }

    /// <inheritdoc />
    public override object Inputs(int batch, Device device, ScalarType dtype) => new Batch(
        randn([batch, 4, 16, 64, 64], dtype, device),
        randint(0, 1000, [batch], ScalarType.Int64, device),
        randn([batch, 120, 4096], dtype, device));

    /// <inheritdoc />
    public override Tensor Forward(nn.Module model, object inputs)
    {
        var b = (Batch)inputs;
        return ((LatteTransformer3DModel)model).forward(b.Latents, b.Timesteps, b.Text);
    }

    /// <inheritdoc />
    public override IVideoDenoiser Denoiser(nn.Module model) => new LatteDenoiser((LatteTransformer3DModel)model);

    /// <inheritdoc />
    public override Tensor Predict(IVideoDenoiser denoiser, object inputs)
    {
        var b = (Batch)inputs;
        return denoiser.Predict(b.Latents, b.Timesteps, new TextCondition(b.Text));
    }
}
