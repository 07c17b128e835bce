using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>diffusers' <c>Upsample2D</c>: nearest-neighbour 2x upsampling, then an optional 3x3 convolution (<c>conv</c>).</summary>
public sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
    /// <summary>The convolution after upsampling, or null.</summary>
    public readonly Conv2d? conv;
    private readonly long _channels;

    /// <summary>Creates the layer.</summary>
    public Upsample2D(long channels, bool useConv, long? outChannels = null) : base(nameof(Upsample2D))
    {
        _channels = channels;
        if (useConv) conv = new Conv2d(channels, outChannels ?? channels, 3, padding: 1);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => forward(input, null);

    /// <summary>Upsamples by 2, or to <paramref name="outputSize"/> (H, W) when given (odd-sized UNet inputs).</summary>
    public Tensor forward(Tensor input, long[]? outputSize)
    {
        if (input.shape[1] != _channels)
            throw new ArgumentException($"Upsample2D: expected {_channels} channels, got [{string.Join(", ", input.shape)}].");
        var upsampled = outputSize is null
            ? F.interpolate(input, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest)
            : F.interpolate(input, size: outputSize, mode: InterpolationMode.Nearest);
        if (conv is null) return upsampled;
        using (upsampled) return conv.forward(upsampled);
    }
}
