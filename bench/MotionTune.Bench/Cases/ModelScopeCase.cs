using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.Unets;
using MotionTune.Pipelines;
using MotionTune.Presets;
using static TorchSharp.torch;

namespace MotionTune.Bench.Cases;

/// <summary>ModelScope text-to-video's UNet3D at 16 x 256 x 256: latents 4 x 16 x 32 x 32, OpenCLIP text 77 x 1024.</summary>
public sealed class ModelScopeCase : BenchCase
{
    private sealed record Batch(Tensor Latents, Tensor Timesteps, Tensor Text);

    /// <inheritdoc />
    public override string Name => "ModelScope UNet3D";
    /// <inheritdoc />
    public override string Shapes => "16 x 256 x 256 (latents 4x16x32x32, text 77x1024)";
    /// <inheritdoc />
    public override Architecture Architecture => Architecture.ModelScope;

    /// <inheritdoc />
    public override nn.Module Build(Device device, ScalarType dtype)
    {
        var config = ConfigFile.Load<UNet3DConditionConfig>(ModelPresets.PathOf(ModelPresets.ModelScopeUNet));
        using (ParameterFactory.Scope(device, dtype, initialize: true)) return new UNet3DConditionModel(config);
    }

    /// <inheritdoc />
    public override object Inputs(int batch, Device device, ScalarType dtype) => new Batch(
        randn([batch, 4, 16, 32, 32], dtype, device),
        randint(0, 1000, [batch], ScalarType.Int64, device),
        randn([batch, 77, 1024], dtype, device));

    /// <inheritdoc />
    public override Tensor Forward(nn.Module model, object inputs)
    {
        var b = (Batch)inputs;
        return ((UNet3DConditionModel)model).forward(b.Latents, b.Timesteps, b.Text);
    }

    /// <inheritdoc />
    public override IVideoDenoiser Denoiser(nn.Module model) => new UNet3DDenoiser((UNet3DConditionModel)model);

    /// <inheritdoc />
    public override Tensor Predict(IVideoDenoiser denoiser, object inputs)
    {
        var b = (Batch)inputs;
        return denoiser.Predict(b.Latents, b.Timesteps, new TextCondition(b.Text));
    }
}
