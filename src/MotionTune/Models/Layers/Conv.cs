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
        using var profile = MotionTune.Runtime.GpuProfiler.Section("conv2d");
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

    /// <summary>
    /// Whether temporal kernels — (kt, 1, 1), stride 1, no spatial padding, as ModelScope's temporal convolutions — run
    /// on CUDA as the equivalent 2D convolution over (B, C, T, H·W) (see <see cref="TemporalAsConv2d"/>), for which cuDNN
    /// has faster kernels. On by default; the environment variable <c>MOTIONTUNE_TEMPORAL_CONV2D=0</c> turns it off.
    /// CPU runs keep the 3D convolution.
    /// </summary>
    public static bool TemporalKernelsAsConv2d { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_TEMPORAL_CONV2D") != "0";

    private bool IsTemporalKernel =>
        weight.shape[3] == 1 && weight.shape[4] == 1 && _stride.All(s => s == 1) && _padding[1] == 0 && _padding[2] == 0;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("conv3d");
        var output = input.is_meta
            ? ConvShape.MetaOutput(input, weight, _stride, _padding) // no meta kernel: shapes only
            : TemporalKernelsAsConv2d && input.is_cuda && IsTemporalKernel
                ? TemporalAsConv2d(input, weight, bias, _padding[0], _groups)
                : F.conv3d(input, weight, bias, _stride, _padding, null, _groups);
        FlopCounter.AddConvolution(output, weight);
        return output;
    }

    /// <summary>
    /// A (kt, 1, 1) convolution with stride 1, temporal padding <paramref name="padT"/> and no spatial padding, computed
    /// as a 2D convolution: the input (B, C, T, H, W) is seen as (B, C, T, H·W) and the weight (out, in, kt, 1, 1) as
    /// (out, in, kt, 1). Each output is the same sum of the same products, so only summation order can differ.
    /// </summary>
    public static Tensor TemporalAsConv2d(Tensor input, Tensor weight, Tensor? bias, long padT, long groups = 1)
    {
        if (input.dim() != 5 || weight.dim() != 5 || weight.shape[3] != 1 || weight.shape[4] != 1)
            throw new ArgumentException($"TemporalAsConv2d: expected a (B, C, T, H, W) input and an (out, in, kt, 1, 1) weight, " +
                $"got [{string.Join(", ", input.shape)}] and [{string.Join(", ", weight.shape)}].");
        long b = input.shape[0], t = input.shape[2], h = input.shape[3], w = input.shape[4];
        using var scope = NewDisposeScope();
        var planes = input.reshape(b, input.shape[1], t, h * w);
        var kernel = weight.view(weight.shape[0], weight.shape[1], weight.shape[2], 1);
        var output = F.conv2d(planes, kernel, bias, [1, 1], [padT, 0], null, groups);
        return output.view(b, output.shape[1], output.shape[2], h, w).MoveToOuterDisposeScope();
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
