using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>CogVideoXSafeConv3d</c>: a Conv3d (parameters <c>weight</c>, <c>bias</c>) that, for inputs over 2 GiB at two
/// bytes per value, convolves in chunks along time (each chunk after the first starting with the previous chunk's last
/// kernel−1 frames), which bounds the convolution's workspace. The result equals the unchunked convolution.
/// </summary>
public sealed class CogVideoXSafeConv3d : nn.Module<Tensor, Tensor>
{
    /// <summary>Kernel, (out, in, kt, kh, kw).</summary>
    public readonly Parameter weight;
    /// <summary>Bias (out).</summary>
    public readonly Parameter bias;
    private readonly long[] _stride, _padding;
    private readonly long _timeKernel;

    /// <summary>Creates the layer with PyTorch's default initialisation.</summary>
    public CogVideoXSafeConv3d(long inChannels, long outChannels, (long T, long H, long W) kernel,
        (long T, long H, long W) stride = default, (long T, long H, long W) padding = default) : base(nameof(CogVideoXSafeConv3d))
    {
        _stride = stride == default ? [1, 1, 1] : [stride.T, stride.H, stride.W];
        _padding = [padding.T, padding.H, padding.W];
        _timeKernel = kernel.T;
        double bound = 1.0 / Math.Sqrt(inChannels * kernel.T * kernel.H * kernel.W);
        weight = ParameterFactory.Create([outChannels, inChannels, kernel.T, kernel.H, kernel.W], t => t.uniform_(-bound, bound));
        bias = ParameterFactory.Create([outChannels], t => t.uniform_(-bound, bound));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        double gib = input.numel() * 2.0 / (1L << 30);
        if (gib <= 2 || _stride[0] != 1) return Convolve(input);

        using var scope = NewDisposeScope();
        var chunks = input.chunk((long)(gib / 2) + 1, 2);
        var outputs = new Tensor[chunks.Length];
        for (int i = 0; i < chunks.Length; i++)
        {
            var chunk = i > 0 && _timeKernel > 1
                ? cat([chunks[i - 1][.., .., ^(int)(_timeKernel - 1)..], chunks[i]], 2)
                : chunks[i];
            outputs[i] = Convolve(chunk);
            if (!ReferenceEquals(chunk, chunks[i])) chunk.Dispose();
        }
        return cat(outputs, 2).MoveToOuterDisposeScope();
    }

    private Tensor Convolve(Tensor input)
    {
        var output = F.conv3d(input, weight, bias, _stride, _padding);
        FlopCounter.AddConvolution(output, weight);
        return output;
    }
}

/// <summary>
/// The last frames each causal convolution saw, carried from one frame batch to the next (diffusers' <c>conv_cache</c>),
/// so that a video processed in frame batches sees the same temporal context as one processed whole.
/// </summary>
public sealed class CogVideoXConvCache : IDisposable
{
    private readonly Dictionary<CogVideoXCausalConv3d, Tensor> _tails = new(ReferenceEqualityComparer.Instance);

    /// <summary>The frames <paramref name="layer"/> kept from the previous batch, or null.</summary>
    internal Tensor? Get(CogVideoXCausalConv3d layer) => _tails.GetValueOrDefault(layer);

    /// <summary>Keeps (a copy of) <paramref name="tail"/> for <paramref name="layer"/>'s next call.</summary>
    internal void Set(CogVideoXCausalConv3d layer, Tensor tail)
    {
        var kept = tail.clone().DetachFromDisposeScope();
        if (_tails.Remove(layer, out var previous)) previous.Dispose();
        _tails[layer] = kept;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _tails.Values) t.Dispose();
        _tails.Clear();
    }
}

/// <summary>
/// diffusers' <c>CogVideoXCausalConv3d</c> (pad mode "first"): time is padded on the past side only, with kernel−1 copies
/// of the first frame or, when a <see cref="CogVideoXConvCache"/> holds them, the previous batch's last kernel−1 frames;
/// height and width are zero-padded symmetrically.
/// </summary>
public sealed class CogVideoXCausalConv3d : nn.Module
{
    /// <summary>The convolution (unpadded in time).</summary>
    public readonly CogVideoXSafeConv3d conv;
    private readonly long _timeKernel;

    /// <summary>Creates the layer with a cubic <paramref name="kernelSize"/>.</summary>
    public CogVideoXCausalConv3d(long inChannels, long outChannels, long kernelSize) : base(nameof(CogVideoXCausalConv3d))
    {
        _timeKernel = kernelSize;
        long spatialPad = (kernelSize - 1) / 2;
        // Spatial zero padding goes to the convolution itself: the same result as diffusers' F.pad, without the copy.
        conv = new CogVideoXSafeConv3d(inChannels, outChannels, (kernelSize, kernelSize, kernelSize), padding: (0, spatialPad, spatialPad));
        RegisterComponents();
    }

    /// <summary>Convolves (B, C, F, H, W) <paramref name="input"/> causally; reads and updates <paramref name="cache"/> if given.</summary>
    public Tensor forward(Tensor input, CogVideoXConvCache? cache = null)
    {
        if (_timeKernel == 1) return conv.forward(input);
        using var scope = NewDisposeScope();
        long past = _timeKernel - 1;
        var history = cache?.Get(this)
                      ?? input[.., .., ..1].expand(input.shape[0], input.shape[1], past, input.shape[3], input.shape[4]);
        var padded = cat([history, input], 2);
        cache?.Set(this, padded[.., .., ^(int)past..]);
        return conv.forward(padded).MoveToOuterDisposeScope();
    }
}
