using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>diffusers' <c>DownEncoderBlock2D</c>: resnets without time embedding, then an optional strided-convolution downsampler.</summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
    /// <summary>Resnets.</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>The downsampler, or null in the last block.</summary>
    public readonly ModuleList<Downsample2D>? downsamplers;

    /// <summary>Creates the block.</summary>
    public DownEncoderBlock2D(long inChannels, long outChannels, int numLayers, int groups, double eps, string activation,
        bool addDownsample, int downsamplePadding) : base(nameof(DownEncoderBlock2D))
    {
        resnets = new(Enumerable.Range(0, numLayers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, eps, activation)).ToArray());
        if (addDownsample) downsamplers = new(new Downsample2D(outChannels, useConv: true, outChannels, downsamplePadding));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = resnets[0].forward(input);
        for (int i = 1; i < resnets.Count; i++) x = x.Pipe(resnets[i].forward);
        if (downsamplers is not null) x = x.Pipe(downsamplers[0].forward);
        return x;
    }
}
