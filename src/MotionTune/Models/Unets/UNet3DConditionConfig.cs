using System.Text.Json.Serialization;
using MotionTune.IO;

namespace MotionTune.Models.Unets;

/// <summary>
/// <c>config.json</c> of diffusers' <c>UNet3DConditionModel</c> (ModelScope text-to-video, zeroscope).
/// Defaults are diffusers' defaults, which are ModelScope's 1.7B model.
/// </summary>
public sealed record UNet3DConditionConfig : ModelConfig
{
    /// <summary>Latent height and width the model was trained at (informational).</summary>
    public int? SampleSize { get; init; }
    /// <summary>Latent channels in.</summary>
    public int InChannels { get; init; } = 4;
    /// <summary>Channels out.</summary>
    public int OutChannels { get; init; } = 4;
    /// <summary>"CrossAttnDownBlock3D" or "DownBlock3D" per resolution.</summary>
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"];
    /// <summary>"UpBlock3D" or "CrossAttnUpBlock3D" per resolution, lowest first.</summary>
    public string[] UpBlockTypes { get; init; } = ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"];
    /// <summary>Channels of each resolution.</summary>
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    /// <summary>Resnet layers per down block (up blocks have one more).</summary>
    public int LayersPerBlock { get; init; } = 2;
    /// <summary>Padding of the downsampling convolutions.</summary>
    public int DownsamplePadding { get; init; } = 1;
    /// <summary>Output scale of the mid block's resnets.</summary>
    public double MidBlockScaleFactor { get; init; } = 1;
    /// <summary>Activation of the resnets and the time embedding.</summary>
    public string ActFn { get; init; } = "silu";
    /// <summary>Group-norm groups.</summary>
    public int? NormNumGroups { get; init; } = 32;
    /// <summary>Group-norm epsilon of the resnets and the output norm.</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Width of the text features.</summary>
    public int CrossAttentionDim { get; init; } = 1024;

    /// <summary>
    /// diffusers' historical misnomer: for UNet3D this is the per-head width of the spatial and temporal transformers
    /// (heads = channels / value); one value, or one per down block.
    /// </summary>
    [JsonConverter(typeof(IntOrListConverter))]
    public IReadOnlyList<int> AttentionHeadDim { get; init; } = [64];

    /// <summary>Must be null: diffusers rejects it for UNet3D (see its issue 2011).</summary>
    [JsonConverter(typeof(IntOrListConverter))]
    public IReadOnlyList<int>? NumAttentionHeads { get; init; }

    /// <summary>Width of an extra timestep condition; only null is supported (no ModelScope model uses it).</summary>
    public int? TimeCondProjDim { get; init; }
}
