using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>Options of <see cref="BasicTransformerBlock"/>, named as diffusers' arguments.</summary>
public sealed record TransformerBlockOptions
{
    /// <summary>Width of the text features for cross-attention (null: no cross-attention).</summary>
    public long? CrossAttentionDim { get; init; }
    /// <summary>diffusers' <c>activation_fn</c> of the feed-forward.</summary>
    public string ActivationFn { get; init; } = "geglu";
    /// <summary>Bias on the q/k/v projections.</summary>
    public bool AttentionBias { get; init; }
    /// <summary>Make <c>attn2</c> a second self-attention (UNet3D's temporal transformers).</summary>
    public bool DoubleSelfAttention { get; init; }
    /// <summary>"layer_norm" or "ada_norm_single".</summary>
    public string NormType { get; init; } = "layer_norm";
    /// <summary>Whether the block's layer norms have affine parameters.</summary>
    public bool NormElementwiseAffine { get; init; } = true;
    /// <summary>Epsilon of the block's layer norms.</summary>
    public double NormEps { get; init; } = 1e-5;
}

/// <summary>
/// diffusers' <c>BasicTransformerBlock</c> for the two norm types the video models use:
/// <list type="bullet">
/// <item><c>layer_norm</c> (UNet3D): x += attn1(norm1 x); x += attn2(norm2 x, text); x += ff(norm3 x).</item>
/// <item><c>ada_norm_single</c> (Latte, PixArt): a (B, 6·dim) timestep modulation plus the learned
/// <c>scale_shift_table</c> gives shift/scale/gate for the attention and the feed-forward; cross-attention takes the
/// unnormalised input, and <c>norm2</c> normalises before the feed-forward.</item>
/// </list>
/// </summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor>
{
    /// <summary>Norm before attn1.</summary>
    public readonly LayerNorm norm1;
    /// <summary>Self-attention.</summary>
    public readonly Attention attn1;
    /// <summary>Norm before attn2 (layer_norm) or before the feed-forward (ada_norm_single), or null.</summary>
    public readonly LayerNorm? norm2;
    /// <summary>Cross-attention (or a second self-attention), or null.</summary>
    public readonly Attention? attn2;
    /// <summary>Norm before the feed-forward (layer_norm blocks only).</summary>
    public readonly LayerNorm? norm3;
    /// <summary>Feed-forward.</summary>
    public readonly FeedForward ff;
    /// <summary>(6, dim) learned modulation offsets of ada_norm_single blocks.</summary>
    public readonly Parameter? scale_shift_table;

    private readonly bool _adaSingle;
    private readonly bool _doubleSelfAttention;

    /// <summary>Creates the block.</summary>
    public BasicTransformerBlock(long dim, int heads, int dimHead, TransformerBlockOptions options) : base(nameof(BasicTransformerBlock))
    {
        _adaSingle = options.NormType switch
        {
            "layer_norm" => false,
            "ada_norm_single" => true,
            _ => throw new ArgumentException($"BasicTransformerBlock: norm_type '{options.NormType}' is not supported."),
        };
        _doubleSelfAttention = options.DoubleSelfAttention;
        LayerNorm Norm() => new(dim, options.NormEps, options.NormElementwiseAffine);

        norm1 = Norm();
        attn1 = new Attention(dim, new AttentionOptions { Heads = heads, DimHead = dimHead, Bias = options.AttentionBias });
        if (options.CrossAttentionDim is not null || options.DoubleSelfAttention)
        {
            norm2 = Norm();
            attn2 = new Attention(dim, new AttentionOptions
            {
                Heads = heads, DimHead = dimHead, Bias = options.AttentionBias,
                CrossAttentionDim = options.DoubleSelfAttention ? null : options.CrossAttentionDim,
            });
        }
        else if (_adaSingle)
        {
            norm2 = Norm(); // Latte's temporal blocks: no cross-attention, but norm2 still precedes the feed-forward
        }
        if (!_adaSingle) norm3 = Norm();
        ff = new FeedForward(dim, activation: options.ActivationFn);
        if (_adaSingle)
            scale_shift_table = ParameterFactory.Create([6, dim], t => t.normal_(0, 1).div_(Math.Sqrt(dim)));
        RegisterComponents();
    }

    /// <summary>Self-attention-only call (no text, no timestep).</summary>
    public override Tensor forward(Tensor hiddenStates) => forward(hiddenStates, null, null, null);

    /// <summary>
    /// Runs the block on (B, N, dim). <paramref name="encoderHiddenStates"/> feeds cross-attention;
    /// <paramref name="encoderMask"/> is its boolean/additive mask; <paramref name="timestep"/> is the (B, 6·dim)
    /// modulation of ada_norm_single blocks.
    /// </summary>
    /// <remarks>
    /// Video models run a block on B·k rows (the k frames, or the k spatial positions, of each sample, consecutive)
    /// under one condition per sample: <paramref name="timestep"/> and <paramref name="encoderHiddenStates"/> may then
    /// have batch B instead of B·k, which gives the same result as repeating them k times, without the copies.
    /// </remarks>
    public Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? encoderMask, Tensor? timestep)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("transformer_block");
        if (!_adaSingle) return LayerNormForward(hiddenStates, encoderHiddenStates, encoderMask);
        if (timestep is null) throw new ArgumentException("ada_norm_single blocks need the timestep modulation.");
        using var scope = NewDisposeScope();
        long rows = hiddenStates.shape[0], tokens = hiddenStates.shape[1], dim = hiddenStates.shape[2];
        long samples = timestep.shape[0];
        if (samples == 0 || rows % samples != 0)
            throw new ArgumentException($"BasicTransformerBlock: a timestep modulation of batch {samples} cannot condition {rows} rows.");
        // shift/scale/gate of attention, then of the feed-forward: each (samples, 1, dim).
        var mod = (scale_shift_table!.unsqueeze(0) + timestep.reshape(samples, 6, dim)).chunk(6, 1);
        // The per-token work (norms, modulation, feed-forward) runs on (samples, rows/samples·tokens, dim) views,
        // where the per-sample modulation broadcasts; only attention needs the (rows, tokens, dim) layout.
        Tensor PerSample(Tensor t) => t.reshape(samples, -1, dim);
        Tensor PerRow(Tensor t) => t.reshape(rows, tokens, dim);
        var x = PerSample(hiddenStates);

        // 1. Self-attention
        var h = norm1.ForwardModulated(x, scale: mod[1], shift: mod[0]);
        x = x.addcmul(mod[2], PerSample(attn1.forward(PerRow(h), null, null)), 1);

        // 2. Cross-attention takes the unnormalised input (PixArt)
        if (attn2 is not null)
        {
            var context = _doubleSelfAttention ? null : encoderHiddenStates;
            x = x + PerSample(attn2.forward(PerRow(x), context, _doubleSelfAttention ? null : encoderMask));
        }

        // 3. Feed-forward
        h = norm2!.ForwardModulated(x, scale: mod[4], shift: mod[3]);
        x = x.addcmul(mod[5], ff.forward(h), 1);
        return PerRow(x).MoveToOuterDisposeScope();
    }

    private Tensor LayerNormForward(Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? encoderMask)
    {
        using var scope = NewDisposeScope();
        var x = hiddenStates;
        x = x + attn1.forward(norm1.forward(x), null, null);
        if (attn2 is not null)
        {
            var h = norm2!.forward(x);
            x = _doubleSelfAttention
                ? x + attn2.forward(h, null, null)
                : x + attn2.forward(h, encoderHiddenStates, encoderMask);
        }
        x = x + ff.forward(norm3!.forward(x));
        return x.MoveToOuterDisposeScope();
    }
}
