using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>ModelScope's UNet3D as a sampler denoiser: (B, C, F, H, W) in and out, ε prediction.</summary>
public sealed class UNet3DDenoiser(UNet3DConditionModel model) : IVideoDenoiser
{
    /// <summary>The UNet.</summary>
    public UNet3DConditionModel Model { get; } = model;

    /// <inheritdoc />
    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition) =>
        Model.forward(latents, timesteps, condition.HiddenStates);
}

/// <summary>
/// Latte as a sampler denoiser. With learned sigma (out_channels = 2·in) the pipeline keeps the first C channels, as
/// diffusers' LattePipeline does; the text mask is passed on (masking equals diffusers' trimming of padding tokens).
/// </summary>
public sealed class LatteDenoiser(LatteTransformer3DModel model) : IVideoDenoiser
{
    /// <summary>The transformer.</summary>
    public LatteTransformer3DModel Model { get; } = model;

    /// <inheritdoc />
    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        var output = Model.forward(latents, timesteps, condition.HiddenStates, condition.AttentionMask);
        long channels = latents.shape[1];
        if (output.shape[1] == channels) return output;
        using (output) return output.narrow(1, 0, channels).contiguous();
    }
}

/// <summary>
/// CogVideoX as a sampler denoiser: permutes the sampler's (B, C, F, H, W) to the transformer's (B, F, C, H, W) and back,
/// and supplies the 3D rotary tables (5B-style models) for the latent grid, computed as the diffusers pipeline does and
/// cached per grid.
/// </summary>
public sealed class CogVideoXDenoiser(CogVideoXTransformer3DModel model, int vaeSpatialCompression) : IVideoDenoiser, IDisposable
{
    private readonly Dictionary<(long F, long H, long W, TorchSharp.DeviceType, int), (Tensor Cos, Tensor Sin)> _rotary = [];

    /// <summary>The transformer.</summary>
    public CogVideoXTransformer3DModel Model { get; } = model;

    /// <inheritdoc />
    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        using var scope = NewDisposeScope();
        var hidden = latents.permute(0, 2, 1, 3, 4);
        var output = Model.forward(hidden, condition.HiddenStates, timesteps, Rotary(latents));
        return output.permute(0, 2, 1, 3, 4).contiguous().MoveToOuterDisposeScope();
    }

    private (Tensor Cos, Tensor Sin)? Rotary(Tensor latents)
    {
        if (!Model.Config.UseRotaryPositionalEmbeddings) return null;
        long f = latents.shape[2], h = latents.shape[3], w = latents.shape[4];
        var key = (f, h, w, latents.device.type, latents.device.index);
        if (!_rotary.TryGetValue(key, out var tables))
        {
            var (cos, sin) = CogVideoXPositions.RotaryForPipeline(Model.Config, (int)(h * vaeSpatialCompression),
                (int)(w * vaeSpatialCompression), (int)f, vaeSpatialCompression);
            tables = (cos.to(latents.device).DetachFromDisposeScope(), sin.to(latents.device).DetachFromDisposeScope());
            _rotary[key] = tables;
        }
        return tables;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (cos, sin) in _rotary.Values) { cos.Dispose(); sin.Dispose(); }
        _rotary.Clear();
    }
}
