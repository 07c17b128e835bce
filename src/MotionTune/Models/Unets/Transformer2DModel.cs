using MotionTune.Models.Layers;
using TorchSharp.Modules;
using Linear = MotionTune.Models.Layers.Linear;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' <c>Transformer2DModel</c> for continuous inputs (the UNet's spatial transformer): group norm,
/// <c>proj_in</c>, <see cref="BasicTransformerBlock"/>s over the H·W tokens of each image with cross-attention to the
/// text, <c>proj_out</c>, plus the input.
/// </summary>
public sealed class Transformer2DModel : nn.Module<Tensor, Tensor>
{
    /// <summary>Input group norm (eps 1e-6).</summary>
    public readonly GroupNorm norm;
    /// <summary>Input projection: a <see cref="Linear"/> (use_linear_projection) or a 1x1 <see cref="Conv2d"/>.</summary>
    public readonly nn.Module<Tensor, Tensor> proj_in;
    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    /// <summary>Output projection, of the same kind as <see cref="proj_in"/>.</summary>
    public readonly nn.Module<Tensor, Tensor> proj_out;

    private readonly bool _linearProjection;
    private readonly long _innerDim;

    /// <summary>Creates the model for <paramref name="inChannels"/>-channel images.</summary>
    public Transformer2DModel(int numAttentionHeads, int attentionHeadDim, long inChannels, long? crossAttentionDim,
        int normNumGroups = 32, int numLayers = 1, bool useLinearProjection = false) : base(nameof(Transformer2DModel))
    {
        _linearProjection = useLinearProjection;
        _innerDim = (long)numAttentionHeads * attentionHeadDim;
        norm = new GroupNorm(normNumGroups, inChannels, 1e-6);
        proj_in = useLinearProjection ? new Linear(inChannels, _innerDim) : new Conv2d(inChannels, _innerDim, 1);
        var options = new TransformerBlockOptions { CrossAttentionDim = crossAttentionDim };
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, numLayers)
            .Select(_ => new BasicTransformerBlock(_innerDim, numAttentionHeads, attentionHeadDim, options)).ToArray());
        proj_out = useLinearProjection ? new Linear(_innerDim, inChannels) : new Conv2d(_innerDim, inChannels, 1);
        RegisterComponents();
    }

    /// <summary>Self-attention only (no text).</summary>
    public override Tensor forward(Tensor input) => forward(input, null);

    /// <summary>Runs the model on (N, C, H, W) with text features (N, L, D) for cross-attention.</summary>
    public Tensor forward(Tensor input, Tensor? encoderHiddenStates)
    {
        using var scope = NewDisposeScope();
        var (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var x = norm.forward(input);
        // (N, C, H, W) -> (N, H·W, C) tokens: one copy either way; the linear projection runs after it, the conv before.
        x = _linearProjection
            ? x.Pipe(t => t.permute(0, 2, 3, 1).reshape(n, h * w, c)).Pipe(proj_in.forward)
            : x.Pipe(proj_in.forward).Pipe(t => t.permute(0, 2, 3, 1).reshape(n, h * w, _innerDim));
        foreach (var block in transformer_blocks)
            x = x.Pipe(t => block.forward(t, encoderHiddenStates, null, null));
        Tensor output;
        if (_linearProjection)
        {
            x = x.Pipe(proj_out.forward);
            // Adding the (N, H, W, C) result as a permuted view writes the sum in the input's layout directly
            // (diffusers makes the permuted result contiguous first, one more pass).
            output = input + x.view(n, h, w, c).permute(0, 3, 1, 2);
        }
        else
        {
            x = x.Pipe(t => t.view(n, h, w, _innerDim).permute(0, 3, 1, 2).contiguous()).Pipe(proj_out.forward);
            output = input + x;
        }
        return output.MoveToOuterDisposeScope();
    }
}
