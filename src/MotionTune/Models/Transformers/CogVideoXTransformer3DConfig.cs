using System.Text.Json.Serialization;
using MotionTune.IO;

namespace MotionTune.Models.Transformers;

/// <summary>
/// <c>config.json</c> of diffusers' <c>CogVideoXTransformer3DModel</c>; defaults are diffusers' (CogVideoX-2b).
/// </summary>
public sealed record CogVideoXTransformer3DConfig : ModelConfig
{
    /// <summary>Attention heads per block.</summary>
    public int NumAttentionHeads { get; init; } = 30;
    /// <summary>Width of one head; the model width is heads · head dim.</summary>
    public int AttentionHeadDim { get; init; } = 64;
    /// <summary>Latent channels in.</summary>
    public int InChannels { get; init; } = 16;
    /// <summary>Latent channels out (null: in_channels).</summary>
    public int? OutChannels { get; init; } = 16;
    /// <summary>Timestep features as [cos, sin] rather than [sin, cos].</summary>
    public bool FlipSinToCos { get; init; } = true;
    /// <summary>Frequency shift of the timestep features.</summary>
    public double FreqShift { get; init; }
    /// <summary>Width of the timestep embedding.</summary>
    public int TimeEmbedDim { get; init; } = 512;
    /// <summary>Width of the "ofs" embedding of CogVideoX 1.5 image-to-video (not supported; must be null).</summary>
    public int? OfsEmbedDim { get; init; }
    /// <summary>Width of the T5 text features.</summary>
    public int TextEmbedDim { get; init; } = 4096;
    /// <summary>Transformer blocks.</summary>
    public int NumLayers { get; init; } = 30;
    /// <summary>Dropout probability (the published models use 0; only 0 is supported).</summary>
    public double Dropout { get; init; }
    /// <summary>Bias on the q/k/v projections.</summary>
    public bool AttentionBias { get; init; } = true;
    /// <summary>Latent width the model was trained at (sets the default positional grid).</summary>
    public int SampleWidth { get; init; } = 90;
    /// <summary>Latent height the model was trained at.</summary>
    public int SampleHeight { get; init; } = 60;
    /// <summary>Pixel-space frame count the model was trained at (49 means 13 latent frames).</summary>
    public int SampleFrames { get; init; } = 49;
    /// <summary>Spatial patch size.</summary>
    public int PatchSize { get; init; } = 2;
    /// <summary>Temporal patch size of CogVideoX 1.5 (not supported; must be null).</summary>
    public int? PatchSizeT { get; init; }
    /// <summary>The VAE's temporal compression (maps sample_frames to latent frames).</summary>
    public int TemporalCompressionRatio { get; init; } = 4;
    /// <summary>Text tokens the positional table reserves.</summary>
    public int MaxTextSeqLength { get; init; } = 226;
    /// <summary>Feed-forward activation.</summary>
    public string ActivationFn { get; init; } = "gelu-approximate";
    /// <summary>Activation inside the timestep embedding.</summary>
    public string TimestepActivationFn { get; init; } = "silu";
    /// <summary>Whether the layer norms have affine parameters.</summary>
    public bool NormElementwiseAffine { get; init; } = true;
    /// <summary>Epsilon of the layer norms.</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Divides the spatial grid of the sin-cos positions.</summary>
    public double SpatialInterpolationScale { get; init; } = 1.875;
    /// <summary>Divides the temporal grid of the sin-cos positions.</summary>
    public double TemporalInterpolationScale { get; init; } = 1.0;
    /// <summary>5B style: rotary positions on q/k (given to the forward pass) instead of added sin-cos positions.</summary>
    public bool UseRotaryPositionalEmbeddings { get; init; }
    /// <summary>Learned (checkpoint) positional table, as CogVideoX-5b-I2V has.</summary>
    public bool UseLearnedPositionalEmbeddings { get; init; }
    /// <summary>Bias on the patch projection.</summary>
    public bool PatchBias { get; init; } = true;

    /// <summary>The model width, heads · head dim.</summary>
    [JsonIgnore]
    public int InnerDim => NumAttentionHeads * AttentionHeadDim;
}
