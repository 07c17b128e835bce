using System.Text.Json.Serialization;
using MotionTune.IO;

namespace MotionTune.Models.Autoencoders;

/// <summary><c>config.json</c> of diffusers' <c>AutoencoderKL</c> (the Stable Diffusion VAE). Defaults are diffusers' defaults.</summary>
public sealed record AutoencoderKLConfig : ModelConfig
{
    /// <summary>Image channels in.</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Image channels out.</summary>
    public int OutChannels { get; init; } = 3;
    /// <summary>Encoder block types (only "DownEncoderBlock2D").</summary>
    public string[] DownBlockTypes { get; init; } = ["DownEncoderBlock2D"];
    /// <summary>Decoder block types (only "UpDecoderBlock2D").</summary>
    public string[] UpBlockTypes { get; init; } = ["UpDecoderBlock2D"];
    /// <summary>Channels of each resolution, highest resolution first.</summary>
    public int[] BlockOutChannels { get; init; } = [64];
    /// <summary>Resnets per encoder block (decoder blocks have one more).</summary>
    public int LayersPerBlock { get; init; } = 1;
    /// <summary>Activation of the resnets.</summary>
    public string ActFn { get; init; } = "silu";
    /// <summary>Latent channels.</summary>
    public int LatentChannels { get; init; } = 4;
    /// <summary>Group-norm groups.</summary>
    public int NormNumGroups { get; init; } = 32;

    /// <summary>Image size the VAE was trained at (only used by diffusers' tiling; int or [h, w]).</summary>
    [JsonConverter(typeof(IntOrListConverter))]
    public IReadOnlyList<int> SampleSize { get; init; } = [32];

    /// <summary>Latents are multiplied by this for the diffusion model (and divided before decoding).</summary>
    public double ScalingFactor { get; init; } = 0.18215;
    /// <summary>Subtracted from latents before scaling (null for the SD VAE).</summary>
    public double? ShiftFactor { get; init; }
    /// <summary>Per-channel latent means some pipelines normalise with (null for the SD VAE; not used here).</summary>
    public double[]? LatentsMean { get; init; }
    /// <summary>Per-channel latent standard deviations some pipelines normalise with (null for the SD VAE; not used here).</summary>
    public double[]? LatentsStd { get; init; }
    /// <summary>Whether pipelines should run this VAE in float32 even when the rest is half precision.</summary>
    public bool ForceUpcast { get; init; } = true;
    /// <summary>Whether <c>quant_conv</c> follows the encoder.</summary>
    public bool UseQuantConv { get; init; } = true;
    /// <summary>Whether <c>post_quant_conv</c> precedes the decoder.</summary>
    public bool UsePostQuantConv { get; init; } = true;
    /// <summary>Whether the mid blocks have their attention layer.</summary>
    public bool MidBlockAddAttention { get; init; } = true;
}
