using System.Text.Json;
using System.Text.Json.Nodes;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Models.TextEncoders;
using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using MotionTune.Pipelines;
using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// Everything that defines one bundled ShapesWorld base model before training: its denoiser config (a real config of
/// the full-size model's class, only smaller), the small CLIP text encoder trained with it, the scheduler (the full-size
/// model's DDIM settings) and the sampling defaults. Pixel space (the denoiser sees 3 channels in [-1, 1]) unless
/// <see cref="Vae"/> is set (<see cref="InLatentSpace"/>).
/// </summary>
public sealed record BaseModelSpec
{
    /// <summary>The architecture.</summary>
    public required Architecture Architecture { get; init; }
    /// <summary>The diffusers pipeline class written to <c>model_index.json</c>.</summary>
    public required string PipelineClass { get; init; }
    /// <summary><c>unet</c> or <c>transformer</c>.</summary>
    public required string DenoiserComponent { get; init; }
    /// <summary>The denoiser's diffusers class.</summary>
    public required string DenoiserClass { get; init; }
    /// <summary>The denoiser config (<see cref="UNet3DConditionConfig"/>, <see cref="LatteTransformer3DConfig"/> or <see cref="CogVideoXTransformer3DConfig"/>).</summary>
    public required ModelConfig DenoiserConfig { get; init; }
    /// <summary>The text encoder config.</summary>
    public required CLIPTextConfig TextConfig { get; init; }
    /// <summary>The scheduler config.</summary>
    public required DdimSchedulerConfig Scheduler { get; init; }
    /// <summary>Sampling defaults (frames, size, steps, guidance), written as <c>_motiontune_defaults</c>.</summary>
    public required PipelineDefaults Defaults { get; init; }
    /// <summary>The VAE whose latents the denoiser works on, or null in pixel space.</summary>
    public AutoencoderKLConfig? Vae { get; init; }
    /// <summary>Pixels per latent along height and width (1 in pixel space).</summary>
    public int SpatialCompression => Vae is null ? 1 : 1 << (Vae.BlockOutChannels.Length - 1);
    /// <summary>Token length of prompts (the tokenizer's <c>model_max_length</c> and the text encoder's positions).</summary>
    public int MaxLength => TextConfig.MaxPositionEmbeddings;

    /// <summary>Builds the denoiser with fresh weights in the current <see cref="ParameterFactory"/> scope.</summary>
    public nn.Module CreateDenoiser() => DenoiserConfig switch
    {
        UNet3DConditionConfig unet => new UNet3DConditionModel(unet),
        LatteTransformer3DConfig latte => new LatteTransformer3DModel(latte),
        CogVideoXTransformer3DConfig cog => new CogVideoXTransformer3DModel(cog),
        _ => throw new NotSupportedException($"No denoiser for config {DenoiserConfig.GetType().Name}."),
    };

    /// <summary>The sampler-facing view of a denoiser built from a spec of VAE factor <paramref name="spatialCompression"/>.</summary>
    public static IVideoDenoiser Wrap(nn.Module denoiser, int spatialCompression = 1) => denoiser switch
    {
        UNet3DConditionModel unet => new UNet3DDenoiser(unet),
        LatteTransformer3DModel latte => new LatteDenoiser(latte),
        CogVideoXTransformer3DModel cog => new CogVideoXDenoiser(cog, spatialCompression),
        _ => throw new NotSupportedException($"{denoiser.GetType().Name} is not a video denoiser."),
    };

    /// <summary>
    /// This spec with denoiser config keys replaced, as in <c>config.json</c> (snake_case keys, JSON values:
    /// <c>patch_size=1</c>, <c>num_layers=8</c>), for training a variant of a bundled model. The result must still build.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown key, a value of the wrong type, or a config the model rejects.</exception>
    public BaseModelSpec WithDenoiserSettings(IReadOnlyDictionary<string, string> settings)
    {
        if (settings.Count == 0) return this;
        var node = BaseModelFolder.ConfigJson(DenoiserConfig, null);
        foreach (var (key, text) in settings)
        {
            // Keys the config omits because they are null (optional settings) are settable too.
            if (!node.ContainsKey(key) && !DenoiserConfig.GetType().GetProperties()
                    .Any(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name) == key && p.SetMethod is { IsPublic: true }))
                throw new ArgumentException($"--set: {DenoiserClass} has no config key '{key}'.");
            JsonNode? value;
            try { value = JsonNode.Parse(text); }
            catch (JsonException) { value = JsonValue.Create(text); } // a bare word is a string
            node[key] = value;
        }
        ModelConfig config;
        try
        {
            config = (ModelConfig)(JsonSerializer.Deserialize(node.ToJsonString(), DenoiserConfig.GetType(), ConfigFile.JsonOptions)
                ?? throw new ArgumentException("--set: empty config."));
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"--set: {string.Join(", ", settings.Select(kv => $"{kv.Key}={kv.Value}"))} does not fit {DenoiserClass}'s config: {e.Message}", e);
        }
        var variant = this with { DenoiserConfig = config };
        try
        {
            using var _ = ParameterFactory.Scope(META);
            using var probe = variant.CreateDenoiser();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new ArgumentException($"--set: {DenoiserClass} cannot be built with {string.Join(", ", settings.Select(kv => $"{kv.Key}={kv.Value}"))}: {e.Message}", e);
        }
        return variant;
    }

    /// <summary>
    /// This spec working on the latents of <paramref name="vae"/> (as the full-size Latte and CogVideoX do) instead of
    /// pixels: the denoiser's channels and sample size become the latent ones and a transformer's patches one latent
    /// cell, so each token is one cell and the VAE's convolutional decoder draws what lies inside it.
    /// </summary>
    public BaseModelSpec InLatentSpace(AutoencoderKLConfig vae)
    {
        int factor = 1 << (vae.BlockOutChannels.Length - 1);
        if (Defaults.Height % factor != 0 || Defaults.Width % factor != 0)
            throw new ArgumentException($"A VAE of factor {factor} does not divide {Defaults.Width} x {Defaults.Height} frames.");
        int side = Defaults.Height / factor;
        int channels = vae.LatentChannels;
        ModelConfig config = DenoiserConfig switch
        {
            LatteTransformer3DConfig latte => latte with { InChannels = channels, OutChannels = channels, SampleSize = side, PatchSize = 1 },
            CogVideoXTransformer3DConfig cog => cog with { InChannels = channels, OutChannels = channels, SampleHeight = side, SampleWidth = side, PatchSize = 1 },
            // A side that its levels do not halve evenly (6 → 3 → 2) is fine: the up path matches the skips' sizes.
            UNet3DConditionConfig unet => unet with { InChannels = channels, OutChannels = channels, SampleSize = side },
            _ => throw new NotSupportedException($"{DenoiserConfig.GetType().Name} has no latent-space variant."),
        };
        return this with { DenoiserConfig = config, Vae = vae };
    }

    /// <summary>
    /// This spec under its own betas rescaled to zero terminal SNR, with v-prediction and trailing spacing (the
    /// transformers' schedule). Under ModelScope's ε schedule the noisiest training input still shows the clip faintly
    /// (√ᾱ_T ≈ 0.07), path included, so the UNet can learn to read the motion from x_t rather than from the caption.
    /// </summary>
    public BaseModelSpec WithZeroTerminalSnr() => Scheduler.RescaleBetasZeroSnr ? this : this with
    {
        Scheduler = BaseModels.ZeroTerminalSnr(Scheduler.BetaSchedule, Scheduler.BetaStart, Scheduler.BetaEnd),
    };

    /// <summary>How the full-size model's pipeline encodes prompts (applied to the small CLIP encoder).</summary>
    public PromptEncodingRules PromptRules => PromptEncodingRules.For(Architecture);
}

/// <summary>
/// The ShapesWorld base-model designs: a small ModelScope-style UNet3D, a small Latte and a small CogVideoX at 16 frames
/// of 24 x 24, with a small CLIP text encoder over <see cref="ShapesTokenizer"/>'s vocabulary. These are the pixel-space
/// specs; the bundled folders are their latent variants on the ShapesWorld VAE (<see cref="BaseModelSpec.InLatentSpace"/>,
/// the UNet also with <see cref="BaseModelSpec.WithZeroTerminalSnr"/>; models/README.md). Sized so that training reaches
/// the quality gates in minutes on one GPU, all three fit the repository, and CPU sampling and customization are quick
/// (see docs/shapesworld.md for the measurements).
/// </summary>
public static class BaseModels
{
    /// <summary>Frames per clip.</summary>
    public const int Frames = 16;
    /// <summary>Frame height and width in pixels.</summary>
    public const int Size = 24;

    /// <summary>The three architectures, in a fixed order.</summary>
    public static IReadOnlyList<Architecture> All { get; } = [Architecture.ModelScope, Architecture.Latte, Architecture.CogVideoX];

    /// <summary>Architectures by their command-line names.</summary>
    public static Architecture Parse(string name) => name.ToLowerInvariant() switch
    {
        "modelscope" => Architecture.ModelScope,
        "latte" => Architecture.Latte,
        "cogvideox" => Architecture.CogVideoX,
        _ => throw new ArgumentException($"Unknown architecture '{name}' (modelscope, latte, cogvideox)."),
    };

    /// <summary>The command-line name of an architecture.</summary>
    public static string Name(Architecture architecture) => architecture.ToString().ToLowerInvariant();

    /// <summary>The pixel-space spec of an architecture (the bundled model is its latent variant; see the class remarks).</summary>
    public static BaseModelSpec Spec(Architecture architecture) => architecture switch
    {
        Architecture.ModelScope => ModelScope(),
        Architecture.Latte => Latte(),
        Architecture.CogVideoX => CogVideoX(),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "no bundled model."),
    };

    /// <summary>
    /// The text encoder: a 2-layer CLIP text tower of width 64 over the ShapesWorld vocabulary, with 16 positions. Its
    /// end-of-text id is the tokenizer's, so the pooled output is read at the right place.
    /// </summary>
    public static CLIPTextConfig TextEncoder()
    {
        var (vocab, _) = ShapesTokenizer.Build();
        return new CLIPTextConfig
        {
            VocabSize = vocab.Count,
            HiddenSize = 64,
            IntermediateSize = 256,
            ProjectionDim = 64,
            NumHiddenLayers = 2,
            NumAttentionHeads = 2,
            MaxPositionEmbeddings = ShapesTokenizer.DefaultMaxLength,
            HiddenAct = "gelu",
            BosTokenId = vocab[ShapesTokenizer.StartOfText],
            EosTokenId = vocab[ShapesTokenizer.EndOfText],
            PadTokenId = vocab[ShapesTokenizer.EndOfText],
        };
    }

    /// <summary>
    /// DDIM over the given betas rescaled to zero terminal SNR, v-prediction, trailing spacing (diffusers' options, after
    /// Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed"). The real Latte uses ε with a non-zero
    /// terminal SNR, which keeps a sample's mean near the noise's; the small Latte-style model trained with it read 80 % of
    /// backgrounds right and 6 % of motions on held-out captions, and 100 % and 31 % with this schedule.
    /// </summary>
    internal static DdimSchedulerConfig ZeroTerminalSnr(string betaSchedule, double betaStart, double betaEnd) => new()
    {
        BetaSchedule = betaSchedule, BetaStart = betaStart, BetaEnd = betaEnd, ClipSample = false, SetAlphaToOne = true,
        StepsOffset = 0, PredictionType = "v_prediction", TimestepSpacing = "trailing", RescaleBetasZeroSnr = true,
    };

    /// <summary>
    /// ModelScope-style: UNet3DConditionModel with three levels (32, 48, 64 channels at 24, 12 and 6 pixels), one
    /// layer per block. Spatial and temporal attention sit at the two coarser levels (the finest level has resnets and
    /// temporal convolutions only, plus the full-resolution temporal transformer every UNet3D has), since attention over
    /// 24 x 24 positions dominated the CPU time. Head width 8 everywhere (the input temporal transformer: 8 heads of 8);
    /// one value, since diffusers builds that transformer with 8 × attention_head_dim and a per-block list breaks it.
    /// ModelScope's DDIM (scaled_linear, ε).
    /// </summary>
    public static BaseModelSpec ModelScope()
    {
        var text = TextEncoder();
        return new BaseModelSpec
        {
            Architecture = Architecture.ModelScope,
            PipelineClass = "TextToVideoSDPipeline",
            DenoiserComponent = "unet",
            DenoiserClass = "UNet3DConditionModel",
            DenoiserConfig = new UNet3DConditionConfig
            {
                SampleSize = Size,
                InChannels = 3,
                OutChannels = 3,
                DownBlockTypes = ["DownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D"],
                UpBlockTypes = ["CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "UpBlock3D"],
                BlockOutChannels = [32, 48, 64],
                LayersPerBlock = 1,
                NormNumGroups = 8,
                CrossAttentionDim = text.HiddenSize,
                AttentionHeadDim = [8],
            },
            TextConfig = text,
            // ModelScope's own DDIM. Zero-terminal-SNR v-prediction fixed the gray backgrounds but, in the same 7.8 minutes
            // (1,217 steps at batch 64), left colour at 6 % and shape at 19 % on held-out captions, against 100 % and 94 % for ε
            // (1,273 steps at batch 128); the bundled model is the ε one.
            Scheduler = new DdimSchedulerConfig
            {
                BetaSchedule = "scaled_linear", BetaStart = 0.00085, BetaEnd = 0.012, ClipSample = false, SetAlphaToOne = false,
                StepsOffset = 1, PredictionType = "epsilon", TimestepSpacing = "leading",
            },
            Defaults = new PipelineDefaults { Frames = Frames, Height = Size, Width = Size, Steps = 25, GuidanceScale = 5 },
        };
    }

    /// <summary>
    /// Latte-style: LatteTransformer3DModel with 4 spatial/temporal block pairs of width 128 (4 heads of 32), patch 2,
    /// adaLN-single, out_channels = in_channels (no learned variance); Latte's betas (linear) made zero-terminal-SNR with
    /// v-prediction (<see cref="ZeroTerminalSnr"/>).
    /// </summary>
    public static BaseModelSpec Latte()
    {
        var text = TextEncoder();
        return new BaseModelSpec
        {
            Architecture = Architecture.Latte,
            PipelineClass = "LattePipeline",
            DenoiserComponent = "transformer",
            DenoiserClass = "LatteTransformer3DModel",
            DenoiserConfig = new LatteTransformer3DConfig
            {
                NumAttentionHeads = 4,
                AttentionHeadDim = 32,
                InChannels = 3,
                OutChannels = 3,
                NumLayers = 4,
                CrossAttentionDim = 128,
                AttentionBias = true,
                SampleSize = Size,
                PatchSize = 2,
                ActivationFn = "gelu-approximate",
                NormType = "ada_norm_single",
                NormElementwiseAffine = false,
                NormEps = 1e-6,
                CaptionChannels = text.HiddenSize,
                VideoLength = Frames,
            },
            TextConfig = text,
            Scheduler = ZeroTerminalSnr("linear", 0.0001, 0.02),
            Defaults = new PipelineDefaults { Frames = Frames, Height = Size, Width = Size, Steps = 25, GuidanceScale = 5 },
        };
    }

    /// <summary>
    /// CogVideoX-style: CogVideoXTransformer3DModel (2B style, sin-cos positions) with 6 blocks of width 128 (4 heads of
    /// 32) over [16 text tokens, 16 frames of 8 x 8 patches of 3 x 3 pixels]; sample_frames 16 with temporal compression
    /// 1, so its positional table has 16 frames; CogVideoX-2b's DDIM (v-prediction, zero terminal SNR, SNR shift 3).
    /// </summary>
    public static BaseModelSpec CogVideoX()
    {
        var text = TextEncoder();
        return new BaseModelSpec
        {
            Architecture = Architecture.CogVideoX,
            PipelineClass = "CogVideoXPipeline",
            DenoiserComponent = "transformer",
            DenoiserClass = "CogVideoXTransformer3DModel",
            DenoiserConfig = new CogVideoXTransformer3DConfig
            {
                NumAttentionHeads = 4,
                AttentionHeadDim = 32,
                InChannels = 3,
                OutChannels = 3,
                TimeEmbedDim = 128,
                TextEmbedDim = text.HiddenSize,
                NumLayers = 6,
                SampleWidth = Size,
                SampleHeight = Size,
                SampleFrames = Frames,
                TemporalCompressionRatio = 1,
                PatchSize = 3,
                MaxTextSeqLength = text.MaxPositionEmbeddings,
            },
            TextConfig = text,
            Scheduler = new CogVideoXDdimSchedulerConfig
            {
                BetaSchedule = "scaled_linear", BetaStart = 0.00085, BetaEnd = 0.012, ClipSample = false, SetAlphaToOne = true,
                StepsOffset = 0, PredictionType = "v_prediction", TimestepSpacing = "trailing", RescaleBetasZeroSnr = true,
                SnrShiftScale = 3.0,
            },
            Defaults = new PipelineDefaults { Frames = Frames, Height = Size, Width = Size, Steps = 25, GuidanceScale = 5 },
        };
    }
}
