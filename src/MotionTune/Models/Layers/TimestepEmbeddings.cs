using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>Sinusoidal timestep features as diffusers' <c>get_timestep_embedding</c> / <c>Timesteps</c> compute them.</summary>
public sealed class Timesteps : nn.Module<Tensor, Tensor>
{
    private readonly int _channels;
    private readonly bool _flipSinToCos;
    private readonly double _downscaleFreqShift;
    private readonly double _scale;

    /// <summary>Creates the (parameterless) layer.</summary>
    public Timesteps(int numChannels, bool flipSinToCos, double downscaleFreqShift, double scale = 1) : base(nameof(Timesteps))
    {
        (_channels, _flipSinToCos, _downscaleFreqShift, _scale) = (numChannels, flipSinToCos, downscaleFreqShift, scale);
    }

    /// <summary>(B) timesteps → (B, channels) float32 features.</summary>
    public override Tensor forward(Tensor timesteps) => Embed(timesteps, _channels, _flipSinToCos, _downscaleFreqShift, _scale);

    /// <summary>
    /// sin/cos features of <paramref name="timesteps"/> at frequencies exp(-ln(maxPeriod)·i / (half − shift)),
    /// i = 0..half−1; [sin, cos] (or [cos, sin] when flipped), zero-padded to an odd width.
    /// </summary>
    public static Tensor Embed(Tensor timesteps, int dim, bool flipSinToCos, double downscaleFreqShift, double scale = 1, double maxPeriod = 10000)
    {
        if (timesteps.dim() != 1) throw new ArgumentException($"Timesteps must be one-dimensional, got [{string.Join(", ", timesteps.shape)}].");
        using var scope = NewDisposeScope();
        int half = dim / 2;
        var exponent = arange(0, half, ScalarType.Float32, timesteps.device) * (-Math.Log(maxPeriod) / (half - downscaleFreqShift));
        var angles = timesteps.to(ScalarType.Float32).unsqueeze(1) * exponent.exp().unsqueeze(0) * scale;
        var emb = flipSinToCos ? cat([angles.cos(), angles.sin()], -1) : cat([angles.sin(), angles.cos()], -1);
        if (dim % 2 == 1) emb = F.pad(emb, [0, 1, 0, 0]);
        return emb.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>TimestepEmbedding</c>: <c>linear_1</c>, an activation, <c>linear_2</c>.</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    /// <summary>First projection.</summary>
    public readonly Linear linear_1;
    /// <summary>Second projection.</summary>
    public readonly Linear linear_2;
    private readonly string _act;

    /// <summary>Creates the layer; <paramref name="actFn"/> is "silu" or "gelu".</summary>
    public TimestepEmbedding(long inChannels, long timeEmbedDim, string actFn = "silu", long? outDim = null) : base(nameof(TimestepEmbedding))
    {
        linear_1 = new Linear(inChannels, timeEmbedDim);
        linear_2 = new Linear(timeEmbedDim, outDim ?? timeEmbedDim);
        _act = actFn is "silu" or "swish" or "gelu" ? actFn : throw new ArgumentException($"TimestepEmbedding: act_fn '{actFn}' is not supported.");
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor sample)
    {
        using var scope = NewDisposeScope();
        var h = linear_1.forward(sample);
        h = _act == "gelu" ? F.gelu(h) : F.silu(h);
        return linear_2.forward(h).MoveToOuterDisposeScope();
    }
}
