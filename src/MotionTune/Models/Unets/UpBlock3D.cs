using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>diffusers' <c>UpBlock3D</c>: per layer, concatenate a skip state, then resnet → temporal convolution; then an optional upsampler.</summary>
public sealed class UpBlock3D : UNet3DUpBlock
{
    /// <summary>Resnets.</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>Temporal convolutions after each resnet.</summary>
    public readonly ModuleList<TemporalConvLayer> temp_convs;
    /// <summary>The upsampler, or null in the last block.</summary>
    public readonly ModuleList<Upsample2D>? upsamplers;

    /// <summary>Creates the block (channel arguments as in <see cref="CrossAttnUpBlock3D"/>).</summary>
    public UpBlock3D(long inChannels, long outChannels, long prevOutputChannels, int numLayers, bool addUpsample,
        UNet3DBlockOptions options) : base(nameof(UpBlock3D))
    {
        var layers = Enumerable.Range(0, numLayers).ToArray();
        resnets = new(layers.Select(i => options.Resnet(
            (i == 0 ? prevOutputChannels : outChannels) + (i == numLayers - 1 ? inChannels : outChannels), outChannels)).ToArray());
        temp_convs = new(layers.Select(_ => options.TemporalConv(outChannels)).ToArray());
        if (addUpsample) upsamplers = new(new Upsample2D(outChannels, useConv: true, outChannels));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int SkipCount => resnets.Count;

    /// <inheritdoc />
    public override Tensor forward(Tensor hiddenStates, IReadOnlyList<Tensor> skips, Tensor temb, Tensor? encoderHiddenStates,
        long numFrames, long[]? upsampleSize)
    {
        if (skips.Count != SkipCount) throw new ArgumentException($"UpBlock3D takes {SkipCount} skip states, got {skips.Count}.");
        var x = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            int layer = i;
            var next = RunLayer(a => cat([a[0]!, a[1]!], 1)
                .Pipe(h => resnets[layer].forward(h, a[2]))
                .Pipe(h => temp_convs[layer].forward(h, numFrames)), x, skips[^(i + 1)], temb);
            if (!ReferenceEquals(x, hiddenStates)) x.Dispose();
            x = next;
        }
        if (upsamplers is not null) x = x.Pipe(h => upsamplers[0].forward(h, upsampleSize));
        return x;
    }
}
