using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>PixArtAlphaCombinedTimestepSizeEmbeddings</c> without the additional (resolution, aspect ratio)
/// conditions, which only PixArt at 1024² uses: 256 sinusoidal features (cos first, no shift) → <c>timestep_embedder</c>.
/// </summary>
public sealed class PixArtAlphaCombinedTimestepSizeEmbeddings : nn.Module<Tensor, Tensor>
{
    /// <summary>Width of the sinusoidal features.</summary>
    public const int FrequencyChannels = 256;

    /// <summary>256 → dim → dim, SiLU between.</summary>
    public readonly TimestepEmbedding timestep_embedder;

    /// <summary>Creates the layer.</summary>
    public PixArtAlphaCombinedTimestepSizeEmbeddings(long embeddingDim) : base(nameof(PixArtAlphaCombinedTimestepSizeEmbeddings))
    {
        timestep_embedder = new TimestepEmbedding(FrequencyChannels, embeddingDim);
        RegisterComponents();
    }

    /// <summary>(B) timesteps → (B, dim), in the dtype of the weights.</summary>
    public override Tensor forward(Tensor timestep)
    {
        using var scope = NewDisposeScope();
        var features = Timesteps.Embed(timestep, FrequencyChannels, flipSinToCos: true, downscaleFreqShift: 0);
        var weight = timestep_embedder.linear_1.weight;
        return timestep_embedder.forward(features.to(weight.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>AdaLayerNormSingle</c> (PixArt-α's adaLN-single): one timestep embedding shared by all blocks,
/// and <c>linear</c>(SiLU(embedding)) giving the (B, 6·dim) modulation every block adds to its
/// <c>scale_shift_table</c>.
/// </summary>
public sealed class AdaLayerNormSingle : nn.Module<Tensor, Tensor>
{
    /// <summary>The timestep embedding.</summary>
    public readonly PixArtAlphaCombinedTimestepSizeEmbeddings emb;
    /// <summary>dim → 6·dim.</summary>
    public readonly Linear linear;

    /// <summary>Creates the layer.</summary>
    public AdaLayerNormSingle(long embeddingDim) : base(nameof(AdaLayerNormSingle))
    {
        emb = new PixArtAlphaCombinedTimestepSizeEmbeddings(embeddingDim);
        linear = new Linear(embeddingDim, 6 * embeddingDim);
        RegisterComponents();
    }

    /// <summary>(B) timesteps → the (B, 6·dim) block modulation.</summary>
    public override Tensor forward(Tensor timestep) => Embed(timestep).Modulation;

    /// <summary>(B) timesteps → the (B, 6·dim) block modulation and the (B, dim) embedding it came from.</summary>
    public (Tensor Modulation, Tensor Embedded) Embed(Tensor timestep)
    {
        using var scope = NewDisposeScope();
        var embedded = emb.forward(timestep);
        var modulation = linear.forward(F.silu(embedded));
        return (modulation.MoveToOuterDisposeScope(), embedded.MoveToOuterDisposeScope());
    }
}
