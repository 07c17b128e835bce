using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>Downsample2D</c>: a stride-2 3x3 convolution (<c>conv</c>), or 2x2 average pooling without one.
/// With padding 0 (the KL VAE) the input is first padded by one on the right and bottom only, as diffusers does.
/// </summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    /// <summary>The strided convolution, or null for average pooling.</summary>
    public readonly Conv2d? conv;
    private readonly long _channels;
    private readonly long _padding;

    /// <summary>Creates the layer.</summary>
    public Downsample2D(long channels, bool useConv, long? outChannels = null, long padding = 1) : base(nameof(Downsample2D))
    {
        _channels = channels;
        _padding = padding;
        if (useConv) conv = new Conv2d(channels, outChannels ?? channels, 3, stride: 2, padding: padding);
        else if (outChannels is long o && o != channels)
            throw new ArgumentException($"Downsample2D: average pooling keeps {channels} channels, {o} were asked for.");
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.shape[1] != _channels)
            throw new ArgumentException($"Downsample2D: expected {_channels} channels, got [{string.Join(", ", input.shape)}].");
        if (conv is null) return F.avg_pool2d(input, 2, 2);
        if (_padding != 0) return conv.forward(input);
        using var padded = F.pad(input, [0, 1, 0, 1]);
        return conv.forward(padded);
    }
}
