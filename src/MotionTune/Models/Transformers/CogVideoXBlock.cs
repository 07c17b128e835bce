using MotionTune.Models.Layers;
using static TorchSharp.torch;

namespace MotionTune.Models.Transformers;

/// <summary>
/// diffusers' <c>CogVideoXBlock</c>: full 3D attention over the joint [text, video] sequence with per-head QK layer norm
/// (rotary positions on the video tokens of q and k for 5B), then a feed-forward over the joint sequence; before each,
/// a <see cref="CogVideoXLayerNormZero"/> modulates text and video separately, and its gates scale the residuals.
/// </summary>
public sealed class CogVideoXBlock : nn.Module
{
    /// <summary>Modulated norm before attention.</summary>
    public readonly CogVideoXLayerNormZero norm1;
    /// <summary>Self-attention (q/k/v/out projections and q/k norms; its SDPA is driven from here).</summary>
    public readonly Attention attn1;
    /// <summary>Modulated norm before the feed-forward.</summary>
    public readonly CogVideoXLayerNormZero norm2;
    /// <summary>Feed-forward.</summary>
    public readonly FeedForward ff;

    /// <summary>Creates the block as <c>CogVideoXTransformer3DModel</c> configures it.</summary>
    public CogVideoXBlock(CogVideoXTransformer3DConfig config) : base(nameof(CogVideoXBlock))
    {
        long dim = config.InnerDim;
        norm1 = new CogVideoXLayerNormZero(config.TimeEmbedDim, dim, config.NormElementwiseAffine, config.NormEps);
        attn1 = new Attention(dim, new AttentionOptions
        {
            Heads = config.NumAttentionHeads,
            DimHead = config.AttentionHeadDim,
            QkNorm = "layer_norm",
            Eps = 1e-6,
            Bias = config.AttentionBias,
            OutBias = true,
        });
        norm2 = new CogVideoXLayerNormZero(config.TimeEmbedDim, dim, config.NormElementwiseAffine, config.NormEps);
        ff = new FeedForward(dim, activation: config.ActivationFn);
        RegisterComponents();
    }

    /// <summary>
    /// Runs the block on (B, N, dim) video tokens and (B, L, dim) text tokens under the (B, time_embed_dim) timestep
    /// embedding; <paramref name="rotary"/> (5B) rotates the video part of q and k. Returns the updated video and text tokens.
    /// </summary>
    public (Tensor Video, Tensor Text) forward(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor temb, CogVideoXRotary? rotary = null)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("transformer_block");
        using var scope = NewDisposeScope();
        long textLength = encoderHiddenStates.shape[1];

        // 1. Attention. The joint outputs are split in one operation rather than sliced twice: autograd then joins the two
        // parts' gradients with one copy, where two slices would each fill a zero tensor of the whole sequence.
        var (joint, gate, textGate) = JointNorm(norm1, hiddenStates, encoderHiddenStates, temb);
        var attention = Attend(joint, rotary).split([textLength, hiddenStates.shape[1]], 1);
        var h = addcmul(hiddenStates, gate, attention[1], 1);
        var e = addcmul(encoderHiddenStates, textGate, attention[0], 1);

        // 2. Feed-forward
        (joint, gate, textGate) = JointNorm(norm2, h, e, temb);
        var output = ff.forward(joint).split([textLength, h.shape[1]], 1);
        h = addcmul(h, gate, output[1], 1);
        e = addcmul(e, textGate, output[0], 1);
        return (h.MoveToOuterDisposeScope(), e.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The modulated [text; video] sequence and the two gates: at inference the norm writes both parts into one buffer;
    /// with gradients the parts are concatenated (one pass more, and the graph autograd expects).
    /// </summary>
    private static (Tensor Joint, Tensor Gate, Tensor TextGate) JointNorm(CogVideoXLayerNormZero norm, Tensor video, Tensor text, Tensor temb)
    {
        if (!is_grad_enabled() && !video.is_meta) return norm.ForwardJoint(video, text, temb);
        var (v, t, gate, textGate) = norm.forward(video, text, temb);
        return (cat([t, v], 1), gate, textGate);
    }

    /// <summary>CogVideoX's attention processor on the joint sequence x (B, S, dim).</summary>
    private Tensor Attend(Tensor x, CogVideoXRotary? rotary)
    {
        using var scope = NewDisposeScope(); // frees q, k, v and friends before the feed-forward runs
        long b = x.shape[0], s = x.shape[1];
        int heads = attn1.Heads, d = attn1.DimHead;
        // Heads are split as (B, S, heads, d) first: the per-head norms and the rotation act on the last dimension, and
        // the transpose to (B, heads, S, d) for SDPA is a free view. With the fused projection q, k and v are strided
        // views of one (B, S, 3·heads·d) output, which the per-head norms read in place (writing contiguous q and k).
        var (q, k, v) = attn1.ProjectQkv(x);
        (q, k, v) = (q.view(b, s, heads, d), k.view(b, s, heads, d), v.view(b, s, heads, d));
        if (attn1.norm_q is not null) q = attn1.norm_q.ForwardPerHead(q);
        if (attn1.norm_k is not null) k = attn1.norm_k.ForwardPerHead(k);
        if (rotary is not null)
        {
            q = rotary.Apply(q);
            k = rotary.Apply(k);
        }
        var output = Attention.MergeHeads(Attention.Attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)));
        return attn1.to_out[1].forward(attn1.to_out[0].forward(output)).MoveToOuterDisposeScope();
    }
}
