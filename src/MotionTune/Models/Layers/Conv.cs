using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>2D convolution with PyTorch's parameter layout (out, in/groups, kh, kw).</summary>
public sealed class Conv2d : nn.Module<Tensor, Tensor>
{
    /// <summary>Kernel, (out, in / groups, kh, kw).</summary>
    public readonly Parameter weight;
    /// <summary>Bias (out) or null.</summary>
    public readonly Parameter? bias;
    private readonly long[] _stride, _padding;
    private readonly long _groups;

    /// <summary>Creates the layer with PyTorch's default initialisation.</summary>
    public Conv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool hasBias = true, long groups = 1)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), hasBias, groups) { }

    /// <summary>Creates the layer with per-axis kernel, stride and padding.</summary>
    public Conv2d(long inChannels, long outChannels, (long H, long W) kernel, (long H, long W) stride, (long H, long W) padding,
        bool hasBias = true, long groups = 1) : base(nameof(Conv2d))
    {
        _stride = [stride.H, stride.W];
        _padding = [padding.H, padding.W];
        _groups = groups;
        long fanIn = inChannels / groups * kernel.H * kernel.W;
        double bound = 1.0 / Math.Sqrt(fanIn);
        weight = ParameterFactory.Create([outChannels, inChannels / groups, kernel.H, kernel.W], t => t.uniform_(-bound, bound));
        if (hasBias) bias = ParameterFactory.Create([outChannels], t => t.uniform_(-bound, bound));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var output = input.is_meta
            ? ConvShape.MetaOutput(input, weight, _stride, _padding) // no meta kernel: shapes only
            : F.conv2d(input, weight, bias, _stride, _padding, null, _groups);
        FlopCounter.AddConvolution(output, weight);
        return output;
    }
}

/// <summary>3D convolution with PyTorch's parameter layout (out, in/groups, kt, kh, kw).</summary>
public sealed class Conv3d : nn.Module<Tensor, Tensor>
{
    /// <summary>Kernel, (out, in / groups, kt, kh, kw).</summary>
    public readonly Parameter weight;
    /// <summary>Bias (out) or null.</summary>
    public readonly Parameter? bias;
    private readonly long[] _stride, _padding;
    private readonly long _groups;

    /// <summary>Creates the layer with PyTorch's default initialisation.</summary>
    public Conv3d(long inChannels, long outChannels, (long T, long H, long W) kernel, (long T, long H, long W) stride,
        (long T, long H, long W) padding, bool hasBias = true, long groups = 1) : base(nameof(Conv3d))
    {
        _stride = [stride.T, stride.H, stride.W];
        _padding = [padding.T, padding.H, padding.W];
        _groups = groups;
        long fanIn = inChannels / groups * kernel.T * kernel.H * kernel.W;
        double bound = 1.0 / Math.Sqrt(fanIn);
        weight = ParameterFactory.Create([outChannels, inChannels / groups, kernel.T, kernel.H, kernel.W], t => t.uniform_(-bound, bound));
        if (hasBias) bias = ParameterFactory.Create([outChannels], t => t.uniform_(-bound, bound));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var output = input.is_meta
            ? ConvShape.MetaOutput(input, weight, _stride, _padding) // no meta kernel: shapes only
            : F.conv3d(input, weight, bias, _stride, _padding, null, _groups);
        FlopCounter.AddConvolution(output, weight);
        return output;
    }
}

/// <summary>Output shapes of convolutions, for meta-device runs (libtorch has no meta convolution kernel).</summary>
internal static class ConvShape
{
    /// <summary>An empty meta tensor of the convolution's output shape: (N, out, ⌊(in + 2p − k) / s⌋ + 1, ...).</summary>
    public static Tensor MetaOutput(Tensor input, Tensor weight, long[] stride, long[] padding)
    {
        int spatial = stride.Length;
        var shape = new long[2 + spatial];
        shape[0] = input.shape[0];
        shape[1] = weight.shape[0];
        for (int i = 0; i < spatial; i++)
            shape[2 + i] = (input.shape[2 + i] + 2 * padding[i] - weight.shape[2 + i]) / stride[i] + 1;
        return empty(shape, input.dtype, input.device);
    }
}
