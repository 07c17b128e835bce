using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>AdaLayerNorm</c> driven by a timestep embedding: <c>linear</c>(silu(temb)) gives a shift and a scale,
/// and the output is norm(x)·(1 + scale) + shift. With <c>chunkDim</c> 1 (CogVideoX's <c>norm_out</c>) the embedding is
/// (B, 2·D), split as [shift, scale] and broadcast over the tokens of (B, N, D); with <c>chunkDim</c> 0 it is a single
/// (2·D) vector split as [scale, shift].
/// </summary>
public sealed class AdaLayerNorm : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Projection of the timestep embedding to shift and scale.</summary>
    public readonly Linear linear;
    /// <summary>The layer norm over the last dimension (output_dim / 2).</summary>
    public readonly LayerNorm norm;
    private readonly int _chunkDim;

    /// <summary>Creates the layer; <paramref name="outputDim"/> defaults to 2 · <paramref name="embeddingDim"/>.</summary>
    public AdaLayerNorm(long embeddingDim, long? outputDim = null, bool normElementwiseAffine = false, double normEps = 1e-5, int chunkDim = 0)
        : base(nameof(AdaLayerNorm))
    {
        if (chunkDim is not (0 or 1)) throw new ArgumentException($"AdaLayerNorm: chunk_dim must be 0 or 1, got {chunkDim}.");
        long output = outputDim ?? embeddingDim * 2;
        _chunkDim = chunkDim;
        linear = new Linear(embeddingDim, output);
        norm = new LayerNorm(output / 2, normEps, normElementwiseAffine);
        RegisterComponents();
    }

    /// <summary>Normalises <paramref name="x"/> and modulates it with <paramref name="temb"/>.</summary>
    public override Tensor forward(Tensor x, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var modulation = linear.forward(F.silu(temb));
        Tensor shift, scale;
        if (_chunkDim == 1)
        {
            var parts = modulation.chunk(2, 1);
            (shift, scale) = (parts[0].unsqueeze(1), parts[1].unsqueeze(1));
        }
        else
        {
            var parts = modulation.chunk(2, 0);
            (scale, shift) = (parts[0], parts[1]);
        }
        return addcmul(shift, norm.forward(x), 1 + scale, 1).MoveToOuterDisposeScope();
    }
}
