using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>diffusers' <c>UpDecoderBlock2D</c>: resnets without time embedding, then an optional nearest-neighbour upsampler.</summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
    /// <summary>Resnets.</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>The upsampler, or null in the last block.</summary>
    public readonly ModuleList<Upsample2D>? upsamplers;

    /// <summary>Creates the block.</summary>
    public UpDecoderBlock2D(long inChannels, long outChannels, int numLayers, int groups, double eps, string activation,
        bool addUpsample) : base(nameof(UpDecoderBlock2D))
    {
        resnets = new(Enumerable.Range(0, numLayers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, eps, activation)).ToArray());
        if (addUpsample) upsamplers = new(new Upsample2D(outChannels, useConv: true, outChannels));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = resnets[0].forward(input);
        for (int i = 1; i < resnets.Count; i++) x = x.Pipe(resnets[i].forward);
        if (upsamplers is not null) x = x.Pipe(upsamplers[0].forward);
        return x;
    }
}
