using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' <c>CrossAttnDownBlock3D</c>: per layer, resnet → temporal convolution → spatial transformer (with text)
/// → temporal transformer; then an optional strided-convolution downsampler.
/// </summary>
public sealed class CrossAttnDownBlock3D : UNet3DDownBlock
{
    /// <summary>Resnets.</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>Temporal convolutions after each resnet.</summary>
    public readonly ModuleList<TemporalConvLayer> temp_convs;
    /// <summary>Spatial transformers with cross-attention.</summary>
    public readonly ModuleList<Transformer2DModel> attentions;
    /// <summary>Temporal transformers.</summary>
    public readonly ModuleList<TransformerTemporalModel> temp_attentions;
    /// <summary>The downsampler, or null in the last block.</summary>
    public readonly ModuleList<Downsample2D>? downsamplers;

    /// <summary>Creates the block.</summary>
    public CrossAttnDownBlock3D(long inChannels, long outChannels, int numLayers, bool addDownsample, int downsamplePadding,
        UNet3DBlockOptions options) : base(nameof(CrossAttnDownBlock3D))
    {
        var layers = Enumerable.Range(0, numLayers).ToArray();
        resnets = new(layers.Select(i => options.Resnet(i == 0 ? inChannels : outChannels, outChannels)).ToArray());
        temp_convs = new(layers.Select(_ => options.TemporalConv(outChannels)).ToArray());
        attentions = new(layers.Select(_ => options.SpatialTransformer(outChannels)).ToArray());
        temp_attentions = new(layers.Select(_ => options.TemporalTransformer(outChannels)).ToArray());
        if (addDownsample) downsamplers = new(new Downsample2D(outChannels, useConv: true, outChannels, downsamplePadding));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates, long numFrames, List<Tensor> skips)
    {
        var x = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            int layer = i;
            x = RunLayer(a => resnets[layer].forward(a[0]!, a[1])
                .Pipe(h => temp_convs[layer].forward(h, numFrames))
                .Pipe(h => attentions[layer].forward(h, a[2]))
                .Pipe(h => temp_attentions[layer].forward(h, numFrames)), x, temb, encoderHiddenStates);
            skips.Add(x);
        }
        if (downsamplers is not null)
        {
            x = downsamplers[0].forward(x);
            skips.Add(x);
        }
        return x;
    }
}
