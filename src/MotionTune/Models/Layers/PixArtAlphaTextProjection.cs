using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>PixArtAlphaTextProjection</c> (the <c>caption_projection</c> of PixArt and Latte):
/// <c>linear_1</c>, tanh-approximated GELU, <c>linear_2</c>.
/// </summary>
public sealed class PixArtAlphaTextProjection : nn.Module<Tensor, Tensor>
{
    /// <summary>in → hidden.</summary>
    public readonly Linear linear_1;
    /// <summary>hidden → out.</summary>
    public readonly Linear linear_2;

    /// <summary>Creates the layer (out defaults to hidden).</summary>
    public PixArtAlphaTextProjection(long inFeatures, long hiddenSize, long? outFeatures = null) : base(nameof(PixArtAlphaTextProjection))
    {
        linear_1 = new Linear(inFeatures, hiddenSize);
        linear_2 = new Linear(hiddenSize, outFeatures ?? hiddenSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor caption)
    {
        using var scope = NewDisposeScope();
        var h = F.gelu(linear_1.forward(caption), TorchSharp.Modules.GELU.Approximate.tanh);
        return linear_2.forward(h).MoveToOuterDisposeScope();
    }
}
