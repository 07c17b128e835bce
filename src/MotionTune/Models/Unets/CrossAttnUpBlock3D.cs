using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' <c>CrossAttnUpBlock3D</c>: per layer, concatenate a skip state, then resnet → temporal convolution →
/// spatial transformer (with text) → temporal transformer; then an optional nearest-neighbour upsampler.
/// </summary>
public sealed class CrossAttnUpBlock3D : UNet3DUpBlock
{
    /// <summary>Resnets.</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>Temporal convolutions after each resnet.</summary>
    public readonly ModuleList<TemporalConvLayer> temp_convs;
    /// <summary>Spatial transformers with cross-attention.</summary>
    public readonly ModuleList<Transformer2DModel> attentions;
    /// <summary>Temporal transformers.</summary>
    public readonly ModuleList<TransformerTemporalModel> temp_attentions;
    /// <summary>The upsampler, or null in the last block.</summary>
    public readonly ModuleList<Upsample2D>? upsamplers;

    /// <summary>
    /// Creates the block. <paramref name="inChannels"/> is the width of the last skip state, <paramref name="prevOutputChannels"/>
    /// that of the previous block's output.
    /// </summary>
    public CrossAttnUpBlock3D(long inChannels, long outChannels, long prevOutputChannels, int numLayers, bool addUpsample,
        UNet3DBlockOptions options) : base(nameof(CrossAttnUpBlock3D))
    {
        var layers = Enumerable.Range(0, numLayers).ToArray();
        resnets = new(layers.Select(i => options.Resnet(
            (i == 0 ? prevOutputChannels : outChannels) + (i == numLayers - 1 ? inChannels : outChannels), outChannels)).ToArray());
        temp_convs = new(layers.Select(_ => options.TemporalConv(outChannels)).ToArray());
        attentions = new(layers.Select(_ => options.SpatialTransformer(outChannels)).ToArray());
        temp_attentions = new(layers.Select(_ => options.TemporalTransformer(outChannels)).ToArray());
        if (addUpsample) upsamplers = new(new Upsample2D(outChannels, useConv: true, outChannels));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int SkipCount => resnets.Count;

    /// <inheritdoc />
    public override Tensor forward(Tensor hiddenStates, IReadOnlyList<Tensor> skips, Tensor temb, Tensor? encoderHiddenStates,
        long numFrames, long[]? upsampleSize)
    {
        if (skips.Count != SkipCount) throw new ArgumentException($"CrossAttnUpBlock3D takes {SkipCount} skip states, got {skips.Count}.");
        var x = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            int layer = i;
            // The concatenation happens inside the (checkpointed) layer, so only its two inputs are kept for backward.
            var next = RunLayer(a => cat([a[0]!, a[1]!], 1)
                .Pipe(h => resnets[layer].forward(h, a[2]))
                .Pipe(h => temp_convs[layer].forward(h, numFrames))
                .Pipe(h => attentions[layer].forward(h, a[3]))
                .Pipe(h => temp_attentions[layer].forward(h, numFrames)), x, skips[^(i + 1)], temb, encoderHiddenStates);
            if (!ReferenceEquals(x, hiddenStates)) x.Dispose();
            x = next;
        }
        if (upsamplers is not null) x = x.Pipe(h => upsamplers[0].forward(h, upsampleSize));
        return x;
    }
}
