using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c> (pre-norm, <c>time_embedding_norm="default"</c>):
/// out = (shortcut(x) + conv2(dropout(act(norm2(conv1(act(norm1 x)) + proj(act temb)))))) / output_scale_factor.
/// Without <c>tembChannels</c> (VAE) there is no time projection.
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor>
{
    /// <summary>Norm of the input.</summary>
    public readonly GroupNorm norm1;
    /// <summary>First 3x3 convolution.</summary>
    public readonly Conv2d conv1;
    /// <summary>Projection of the time embedding to a per-channel shift, or null.</summary>
    public readonly Linear? time_emb_proj;
    /// <summary>Norm after the time shift.</summary>
    public readonly GroupNorm norm2;
    /// <summary>Dropout before conv2 (active only in training mode).</summary>
    public readonly Dropout dropout;
    /// <summary>Second 3x3 convolution.</summary>
    public readonly Conv2d conv2;
    /// <summary>1x1 projection of the input when the channel count changes, or null.</summary>
    public readonly Conv2d? conv_shortcut;

    private readonly Func<Tensor, Tensor> _act;
    private readonly bool _silu; // the norms and SiLU then run as one fused op (GroupNorm.ForwardSiLU)
    private readonly double _outputScaleFactor;

    /// <summary>Creates the block.</summary>
    public ResnetBlock2D(long inChannels, long outChannels, long? tembChannels, int groups, double eps,
        string activation = "silu", double outputScaleFactor = 1.0, double dropoutRate = 0.0) : base(nameof(ResnetBlock2D))
    {
        norm1 = new GroupNorm(groups, inChannels, eps);
        conv1 = new Conv2d(inChannels, outChannels, 3, padding: 1);
        if (tembChannels is long temb) time_emb_proj = new Linear(temb, outChannels);
        norm2 = new GroupNorm(groups, outChannels, eps);
        dropout = nn.Dropout(dropoutRate);
        conv2 = new Conv2d(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels) conv_shortcut = new Conv2d(inChannels, outChannels, 1);
        _act = Activations.Get(activation);
        _silu = activation is "silu" or "swish";
        _outputScaleFactor = outputScaleFactor;
        RegisterComponents();
    }

    /// <summary>The block without a time embedding.</summary>
    public override Tensor forward(Tensor input) => forward(input, null);

    /// <summary>Runs the block on (N, C, H, W); <paramref name="temb"/> is (N, temb_channels) or null.</summary>
    public Tensor forward(Tensor input, Tensor? temb)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("resnet");
        using var scope = NewDisposeScope();
        var h = NormAct(norm1, input).Pipe(conv1.forward);
        if (time_emb_proj is not null && temb is not null)
        {
            var shift = time_emb_proj.forward(_act(temb));
            h = h.Pipe(x => x + shift.view(shift.shape[0], shift.shape[1], 1, 1));
        }
        h = h.Pipe(x => NormAct(norm2, x)).Pipe(dropout.forward).Pipe(conv2.forward);
        var shortcut = conv_shortcut is null ? input : conv_shortcut.forward(input);
        var output = shortcut + h;
        // Dividing by 1 is exact, so the common case skips a pass over the tensor.
        if (_outputScaleFactor != 1.0) output = output.Pipe(x => x / _outputScaleFactor);
        return output.MoveToOuterDisposeScope();
    }

    private Tensor NormAct(GroupNorm norm, Tensor x) => _silu ? norm.ForwardSiLU(x) : _act(norm.forward(x));
}
