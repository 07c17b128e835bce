using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>UNetMidBlock2D</c> as the KL VAE builds it: resnet, then per layer a single-head self-attention over
/// all pixels (with its own group norm and a residual connection) and another resnet. No time embedding.
/// </summary>
public sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor>
{
    /// <summary>Resnets (one more than layers).</summary>
    public readonly ModuleList<ResnetBlock2D> resnets;
    /// <summary>Attention layers (empty without attention).</summary>
    public readonly ModuleList<Attention> attentions;

    /// <summary>Creates the block.</summary>
    public UNetMidBlock2D(long channels, int groups, double eps, string activation, bool addAttention, int attentionHeadDim,
        int numLayers = 1) : base(nameof(UNetMidBlock2D))
    {
        resnets = new(Enumerable.Range(0, numLayers + 1)
            .Select(_ => new ResnetBlock2D(channels, channels, null, groups, eps, activation)).ToArray());
        attentions = new(!addAttention ? [] : Enumerable.Range(0, numLayers).Select(_ => new Attention(channels, new AttentionOptions
        {
            Heads = (int)(channels / attentionHeadDim),
            DimHead = attentionHeadDim,
            Bias = true,
            NormNumGroups = groups,
            Eps = eps,
            ResidualConnection = true,
        })).ToArray());
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = resnets[0].forward(input);
        for (int i = 1; i < resnets.Count; i++)
        {
            if (attentions.Count > 0) x = x.Pipe(attentions[i - 1].forward);
            x = x.Pipe(resnets[i].forward);
        }
        return x;
    }
}
