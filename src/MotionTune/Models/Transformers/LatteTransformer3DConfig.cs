using MotionTune.IO;

namespace MotionTune.Models.Transformers;

/// <summary>
/// <c>config.json</c> of diffusers' <c>LatteTransformer3DModel</c>; defaults are diffusers' defaults.
/// Latte-1: 28 layers, 16 heads × 72, in 4 / out 8, sample 64, patch 2, caption 4096, cross-attention 1152,
/// ada_norm_single, gelu-approximate, no norm affine, eps 1e-6, attention bias, 16 frames.
/// </summary>
public sealed record LatteTransformer3DConfig : ModelConfig
{
    /// <summary>Attention heads.</summary>
    public int NumAttentionHeads { get; init; } = 16;
    /// <summary>Width of one head; the token width is heads × this.</summary>
    public int AttentionHeadDim { get; init; } = 88;
    /// <summary>Latent channels in (required).</summary>
    public int? InChannels { get; init; }
    /// <summary>Channels out (null: in_channels); twice in_channels when the model also predicts the variance.</summary>
    public int? OutChannels { get; init; }
    /// <summary>Spatial/temporal block pairs.</summary>
    public int NumLayers { get; init; } = 1;
    /// <summary>Dropout (only 0 is supported: checkpointed blocks must be deterministic).</summary>
    public double Dropout { get; init; }
    /// <summary>Width of the text features at the spatial blocks' cross-attention (the projected captions).</summary>
    public int? CrossAttentionDim { get; init; }
    /// <summary>Bias on the q/k/v projections.</summary>
    public bool AttentionBias { get; init; }
    /// <summary>Latent height and width the model was trained at; sets the position grid's base size.</summary>
    public int SampleSize { get; init; } = 64;
    /// <summary>Patch side (required).</summary>
    public int? PatchSize { get; init; }
    /// <summary>Feed-forward activation: gelu, gelu-approximate, geglu or geglu-approximate.</summary>
    public string ActivationFn { get; init; } = "geglu";
    /// <summary>Training steps for ada_norm embeddings; unused by ada_norm_single.</summary>
    public int? NumEmbedsAdaNorm { get; init; }
    /// <summary>Block norm type: ada_norm_single (Latte) or layer_norm.</summary>
    public string NormType { get; init; } = "layer_norm";
    /// <summary>Whether the blocks' layer norms have affine parameters.</summary>
    public bool NormElementwiseAffine { get; init; } = true;
    /// <summary>Epsilon of the blocks' layer norms.</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Width of the text encoder's features (required; T5-XXL: 4096).</summary>
    public int? CaptionChannels { get; init; }
    /// <summary>Frames the temporal position table covers; inputs with several frames must have exactly this many.</summary>
    public int VideoLength { get; init; } = 16;

    /// <summary>Token width: heads × head width.</summary>
    public long InnerDim => (long)NumAttentionHeads * AttentionHeadDim;

    /// <summary>Channels of the output.</summary>
    public int OutputChannels => OutChannels ?? InChannels ?? 0;

    /// <summary>Keys older diffusers Latte configs carry that the model never used.</summary>
    protected override IReadOnlyCollection<string> InertKeys => ["use_linear_projection"];

    /// <summary>Throws a clear error for a config the model cannot be built from.</summary>
    /// <exception cref="ArgumentException">A required key is missing or a value is unsupported.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (InChannels is not > 0) problems.Add("in_channels must be a positive number");
        if (PatchSize is not > 0) problems.Add("patch_size must be a positive number");
        if (CaptionChannels is not > 0) problems.Add("caption_channels must be a positive number");
        if (NumAttentionHeads <= 0 || AttentionHeadDim <= 0) problems.Add("num_attention_heads and attention_head_dim must be positive");
        if (NumLayers < 0) problems.Add("num_layers must not be negative");
        if (VideoLength <= 0) problems.Add("video_length must be positive");
        if (InnerDim % 2 != 0) problems.Add($"the token width {InnerDim} must be even for sin-cos positions");
        if (NormType is not ("ada_norm_single" or "layer_norm")) problems.Add($"norm_type '{NormType}' is not supported (ada_norm_single or layer_norm)");
        if (CrossAttentionDim is { } cross && cross != InnerDim)
            problems.Add($"cross_attention_dim {cross} must equal the token width {InnerDim} (the captions are projected to it)");
        if (Dropout != 0) problems.Add($"dropout {Dropout} is not supported (only 0)");
        if (problems.Count > 0)
            throw new ArgumentException($"LatteTransformer3DModel config: {string.Join("; ", problems)}.");
    }
}
