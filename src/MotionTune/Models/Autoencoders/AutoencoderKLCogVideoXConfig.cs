using MotionTune.IO;

namespace MotionTune.Models.Autoencoders;

/// <summary><c>config.json</c> of diffusers' <c>AutoencoderKLCogVideoX</c>; defaults are diffusers' (CogVideoX-2b's VAE).</summary>
public sealed record AutoencoderKLCogVideoXConfig : ModelConfig
{
    /// <summary>Video channels in.</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Video channels out.</summary>
    public int OutChannels { get; init; } = 3;
    /// <summary>Encoder block types (only CogVideoXDownBlock3D exists).</summary>
    public string[] DownBlockTypes { get; init; } = ["CogVideoXDownBlock3D", "CogVideoXDownBlock3D", "CogVideoXDownBlock3D", "CogVideoXDownBlock3D"];
    /// <summary>Decoder block types (only CogVideoXUpBlock3D exists).</summary>
    public string[] UpBlockTypes { get; init; } = ["CogVideoXUpBlock3D", "CogVideoXUpBlock3D", "CogVideoXUpBlock3D", "CogVideoXUpBlock3D"];
    /// <summary>Channels of each encoder block (reversed in the decoder).</summary>
    public int[] BlockOutChannels { get; init; } = [128, 256, 256, 512];
    /// <summary>Latent channels.</summary>
    public int LatentChannels { get; init; } = 16;
    /// <summary>Resnets per encoder block (the decoder has one more).</summary>
    public int LayersPerBlock { get; init; } = 3;
    /// <summary>Activation ("silu").</summary>
    public string ActFn { get; init; } = "silu";
    /// <summary>Epsilon of the resnet group norms.</summary>
    public double NormEps { get; init; } = 1e-6;
    /// <summary>Groups of the group norms.</summary>
    public int NormNumGroups { get; init; } = 32;
    /// <summary>Temporal compression (4: the first log2(4) = 2 blocks halve time).</summary>
    public double TemporalCompressionRatio { get; init; } = 4;
    /// <summary>Training height in pixels (sets the default tile size: half of it).</summary>
    public int SampleHeight { get; init; } = 480;
    /// <summary>Training width in pixels.</summary>
    public int SampleWidth { get; init; } = 720;
    /// <summary>Latents are multiplied by this for the transformer (2b: 1.15258426, 5b: 0.7).</summary>
    public double ScalingFactor { get; init; } = 1.15258426;
    /// <summary>Latent shift (null for CogVideoX).</summary>
    public double? ShiftFactor { get; init; }
    /// <summary>Per-channel latent means (null for CogVideoX).</summary>
    public double[]? LatentsMean { get; init; }
    /// <summary>Per-channel latent standard deviations (null for CogVideoX).</summary>
    public double[]? LatentsStd { get; init; }
    /// <summary>diffusers' hint to run the VAE in float32.</summary>
    public bool ForceUpcast { get; init; } = true;
    /// <summary>Whether a 1×1×1 <c>quant_conv</c> follows the encoder.</summary>
    public bool UseQuantConv { get; init; }
    /// <summary>Whether a 1×1×1 <c>post_quant_conv</c> precedes the decoder.</summary>
    public bool UsePostQuantConv { get; init; }
    /// <summary>Image-to-video pipelines divide rather than multiply image latents by the scaling factor (CogVideoX 1.5).</summary>
    public bool InvertScaleLatents { get; init; }
}
