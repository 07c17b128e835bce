using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' <c>UNetMidBlock3DCrossAttn</c>: resnet → temporal convolution, then per layer spatial transformer →
/// temporal transformer → resnet → temporal convolution.
/// </summary>
public sealed class UNetMidBlock3DCrossAttn : UNet3DBlock
{
    /// <summary>Resnets (one more than layers).</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>Temporal convolutions, one after each resnet.</summary>
    public readonly ModuleList<TemporalConvLayer> temp_convs;
    /// <summary>Spatial transformers with cross-attention.</summary>
    public readonly ModuleList<Transformer2DModel> attentions;
    /// <summary>Temporal transformers.</summary>
    public readonly ModuleList<TransformerTemporalModel> temp_attentions;

    /// <summary>Creates the block.</summary>
    public UNetMidBlock3DCrossAttn(long channels, UNet3DBlockOptions options, double outputScaleFactor = 1.0, int numLayers = 1)
        : base(nameof(UNetMidBlock3DCrossAttn))
    {
        var layers = Enumerable.Range(0, numLayers).ToArray();
        resnets = new(Enumerable.Range(0, numLayers + 1).Select(_ => options.Resnet(channels, channels, outputScaleFactor)).ToArray());
        temp_convs = new(Enumerable.Range(0, numLayers + 1).Select(_ => options.TemporalConv(channels)).ToArray());
        attentions = new(layers.Select(_ => options.SpatialTransformer(channels)).ToArray());
        temp_attentions = new(layers.Select(_ => options.TemporalTransformer(channels)).ToArray());
        RegisterComponents();
    }

    /// <summary>Runs the block on a frame batch (see <see cref="UNet3DDownBlock.forward"/>).</summary>
    public Tensor forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates, long numFrames)
    {
        var x = RunLayer(a => resnets[0].forward(a[0]!, a[1])
            .Pipe(h => temp_convs[0].forward(h, numFrames)), hiddenStates, temb);
        for (int i = 0; i < attentions.Count; i++)
        {
            int layer = i;
            var next = RunLayer(a => attentions[layer].forward(a[0]!, a[2])
                .Pipe(h => temp_attentions[layer].forward(h, numFrames))
                .Pipe(h => resnets[layer + 1].forward(h, a[1]))
                .Pipe(h => temp_convs[layer + 1].forward(h, numFrames)), x, temb, encoderHiddenStates);
            x.Dispose();
            x = next;
        }
        return x;
    }
}
