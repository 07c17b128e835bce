using MotionTune.Models.Layers;
using TorchSharp.Modules;
using Linear = MotionTune.Models.Layers.Linear;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' <c>TransformerTemporalModel</c> (ModelScope's temporal attention): group norm over each video,
/// <c>proj_in</c>, <see cref="BasicTransformerBlock"/>s whose tokens are the F frames at one pixel (both attention layers
/// are self-attention across frames), <c>proj_out</c>, plus the input. Takes and returns frame batches (B·F, C, H, W).
/// </summary>
public sealed class TransformerTemporalModel : nn.Module<Tensor, long, Tensor>
{
    /// <summary>Group norm over (C, F, H, W) of each video (eps 1e-6).</summary>
    public readonly GroupNorm norm;
    /// <summary>Input projection.</summary>
    public readonly Linear proj_in;
    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    /// <summary>Output projection.</summary>
    public readonly Linear proj_out;

    private readonly long _innerDim;

    /// <summary>
    /// Creates the model. <paramref name="crossAttentionDim"/> is accepted as diffusers does, but with
    /// <paramref name="doubleSelfAttention"/> (always, in UNet3D) the second attention is self-attention too.
    /// </summary>
    public TransformerTemporalModel(int numAttentionHeads, int attentionHeadDim, long inChannels, int normNumGroups = 32,
        long? crossAttentionDim = null, int numLayers = 1, bool doubleSelfAttention = true) : base(nameof(TransformerTemporalModel))
    {
        _innerDim = (long)numAttentionHeads * attentionHeadDim;
        norm = new GroupNorm(normNumGroups, inChannels, 1e-6);
        proj_in = new Linear(inChannels, _innerDim);
        var options = new TransformerBlockOptions { CrossAttentionDim = crossAttentionDim, DoubleSelfAttention = doubleSelfAttention };
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, numLayers)
            .Select(_ => new BasicTransformerBlock(_innerDim, numAttentionHeads, attentionHeadDim, options)).ToArray());
        proj_out = new Linear(_innerDim, inChannels);
        RegisterComponents();
    }

    /// <summary>Runs the model on a frame batch (B·F, C, H, W) of <paramref name="numFrames"/> frames per video.</summary>
    public override Tensor forward(Tensor input, long numFrames)
    {
        using var scope = NewDisposeScope();
        var (bf, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        if (bf % numFrames != 0)
            throw new ArgumentException($"TransformerTemporalModel: a batch of {bf} frames does not split into videos of {numFrames} frames.");
        long b = bf / numFrames;
        var frames = input.view(b, numFrames, c, h, w);
        // The norm sees (B, C, F, H, W) so its groups span all frames of a video; its output is contiguous in that order.
        var x = norm.forward(frames.permute(0, 2, 1, 3, 4));
        // (B, C, F, H, W) -> (B·H·W, F, C): one sequence of F frame tokens per pixel (one copy).
        x = x.Pipe(t => t.permute(0, 3, 4, 2, 1).reshape(b * h * w, numFrames, c)).Pipe(proj_in.forward);
        foreach (var block in transformer_blocks)
            x = x.Pipe(t => block.forward(t, null, null, null));
        x = x.Pipe(proj_out.forward);
        // (B·H·W, F, C) viewed as (B, F, C, H, W) and added in the input's order: the sum lands contiguous as a frame batch.
        var output = frames + x.view(b, h, w, numFrames, c).permute(0, 3, 4, 1, 2);
        return output.reshape(bf, c, h, w).MoveToOuterDisposeScope();
    }
}
