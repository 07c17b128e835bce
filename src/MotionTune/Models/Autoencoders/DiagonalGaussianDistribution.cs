using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>DiagonalGaussianDistribution</c>: the encoder's posterior N(mean, exp(logvar)), with logvar clamped
/// to [-30, 20] as diffusers does. Owns its tensors.
/// </summary>
public sealed class DiagonalGaussianDistribution : IDisposable
{
    /// <summary>Mean (N, C, h, w), which is also the mode.</summary>
    public Tensor Mean { get; }
    /// <summary>Clamped log-variance (N, C, h, w).</summary>
    public Tensor LogVar { get; }

    /// <summary>Splits <paramref name="moments"/> (N, 2C, h, w) into mean and log-variance along the channels.</summary>
    public DiagonalGaussianDistribution(Tensor moments)
    {
        var halves = moments.chunk(2, 1);
        Mean = halves[0];
        LogVar = halves[1].clamp(-30.0, 20.0);
        halves[1].Dispose();
    }

    /// <summary>
    /// mean + std·ε. With a (CPU) <paramref name="generator"/>, ε is drawn on the CPU and moved, as diffusers'
    /// <c>randn_tensor</c> does, so results do not depend on the device.
    /// </summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var noise = generator is null
            ? randn_like(Mean)
            : randn(Mean.shape, ScalarType.Float32, CPU, generator: generator).to(Mean.dtype, Mean.device);
        return (Mean + (0.5 * LogVar).exp() * noise).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
    }
}
