using MotionTune.Models.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Transformers;

/// <summary>
/// diffusers' <c>CogVideoXLayerNormZero</c>: <c>linear</c>(silu(temb)) gives shift, scale and gate for the video tokens
/// and for the text tokens; both are normalised by the same <c>norm</c> and modulated with their own shift and scale.
/// </summary>
public sealed class CogVideoXLayerNormZero : nn.Module
{
    /// <summary>Timestep embedding → 6 · dim modulation (shift, scale, gate, text shift, text scale, text gate).</summary>
    public readonly Linear linear;
    /// <summary>The shared layer norm.</summary>
    public readonly LayerNorm norm;

    /// <summary>Creates the layer.</summary>
    public CogVideoXLayerNormZero(long conditioningDim, long embeddingDim, bool elementwiseAffine = true, double eps = 1e-5, bool bias = true)
        : base(nameof(CogVideoXLayerNormZero))
    {
        linear = new Linear(conditioningDim, 6 * embeddingDim, bias);
        norm = new LayerNorm(embeddingDim, eps, elementwiseAffine);
        RegisterComponents();
    }

    /// <summary>
    /// Normalises (B, N, dim) video and (B, L, dim) text tokens under the (B, conditioning) timestep embedding; returns
    /// both modulated, and the (B, 1, dim) gates for the residual branches.
    /// </summary>
    public (Tensor Video, Tensor Text, Tensor Gate, Tensor TextGate) forward(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor temb)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("cogvideox.norm_zero");
        using var scope = NewDisposeScope();
        var m = linear.forward(F.silu(temb)).unsqueeze(1).chunk(6, 2);
        // norm(x)·(1 + scale) + shift: one fused kernel on CUDA at inference, layer norm and one addcmul otherwise.
        var video = norm.ForwardModulated(hiddenStates, scale: m[1], shift: m[0]);
        var text = norm.ForwardModulated(encoderHiddenStates, scale: m[4], shift: m[3]);
        return (video.MoveToOuterDisposeScope(), text.MoveToOuterDisposeScope(),
            m[2].MoveToOuterDisposeScope(), m[5].MoveToOuterDisposeScope());
    }

    /// <summary>
    /// <see cref="forward"/> with the modulated text and video written straight into one joint (B, L + N, dim) sequence,
    /// text first, as the block's attention and feed-forward take them (instead of concatenating the two afterwards).
    /// Inference only: the parts are written in place.
    /// </summary>
    public (Tensor Joint, Tensor Gate, Tensor TextGate) ForwardJoint(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor temb)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("cogvideox.norm_zero");
        using var scope = NewDisposeScope();
        var m = linear.forward(F.silu(temb)).unsqueeze(1).chunk(6, 2);
        long textLength = encoderHiddenStates.shape[1], videoLength = hiddenStates.shape[1];
        var joint = empty([hiddenStates.shape[0], textLength + videoLength, hiddenStates.shape[2]], hiddenStates.dtype, hiddenStates.device);
        norm.ForwardModulatedInto(joint.narrow(1, 0, textLength), encoderHiddenStates, scale: m[4], shift: m[3]);
        norm.ForwardModulatedInto(joint.narrow(1, textLength, videoLength), hiddenStates, scale: m[1], shift: m[0]);
        return (joint.MoveToOuterDisposeScope(), m[2].MoveToOuterDisposeScope(), m[5].MoveToOuterDisposeScope());
    }
}
