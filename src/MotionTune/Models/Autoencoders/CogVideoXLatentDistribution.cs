using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// The diagonal Gaussian the CogVideoX encoder outputs (diffusers' <c>DiagonalGaussianDistribution</c>): the moments are
/// split along channels into mean and log-variance, the latter clamped to [−30, 20].
/// </summary>
public sealed class CogVideoXLatentDistribution : IDisposable
{
    /// <summary>Mean, (B, latent, F, h, w).</summary>
    public Tensor Mean { get; }
    /// <summary>Clamped log-variance, same shape.</summary>
    public Tensor LogVar { get; }

    /// <summary>Splits (B, 2 · latent, F, h, w) <paramref name="moments"/>.</summary>
    public CogVideoXLatentDistribution(Tensor moments)
    {
        var parts = moments.chunk(2, 1);
        Mean = parts[0];
        LogVar = parts[1].clamp(-30.0, 20.0);
        parts[1].Dispose();
    }

    /// <summary>The mode (the mean).</summary>
    public Tensor Mode() => Mean.alias();

    /// <summary>mean + exp(logvar / 2) · ε with ε ~ N(0, 1) from <paramref name="generator"/>.</summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var noise = randn(Mean.shape, Mean.dtype, Mean.device, generator: generator);
        return (Mean + (0.5 * LogVar).exp() * noise).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
    }
}
