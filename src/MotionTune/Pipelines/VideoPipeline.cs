using System.Text.Json;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>The sampling defaults of a pipeline, as its diffusers pipeline sets them.</summary>
public sealed record PipelineDefaults
{
    /// <summary>Frames per clip.</summary>
    public int Frames { get; init; } = 16;
    /// <summary>Pixel height.</summary>
    public int Height { get; init; } = 256;
    /// <summary>Pixel width.</summary>
    public int Width { get; init; } = 256;
    /// <summary>Sampling steps.</summary>
    public int Steps { get; init; } = 50;
    /// <summary>Classifier-free guidance scale.</summary>
    public double GuidanceScale { get; init; } = 7.5;
    /// <summary>
    /// The boundary τ a probe of this model recommends for customization, where the folder records one
    /// (<c>"_motiontune_defaults": {"recommended_tau": ...}</c>); null otherwise.
    /// </summary>
    public int? RecommendedTau { get; init; }
}

/// <summary>Options of one generation; unset values take the pipeline's <see cref="PipelineDefaults"/>.</summary>
public sealed record GenerationOptions
{
    /// <summary>Frames (CogVideoX: 4k + 1).</summary>
    public int? Frames { get; init; }
    /// <summary>Pixel height.</summary>
    public int? Height { get; init; }
    /// <summary>Pixel width.</summary>
    public int? Width { get; init; }
    /// <summary>Sampling steps.</summary>
    public int? Steps { get; init; }
    /// <summary>Guidance scale (1 disables classifier-free guidance).</summary>
    public double? GuidanceScale { get; init; }
    /// <summary>The negative prompt of classifier-free guidance.</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary>DDIM eta (0: deterministic).</summary>
    public double Eta { get; init; }
    /// <summary>Seed of the initial noise (drawn on the CPU, so a seed gives the same video on any device).</summary>
    public long Seed { get; init; }
    /// <summary>Called after every step.</summary>
    public Action<SamplerProgress>? Progress { get; init; }
    /// <summary>How a LoRA customization is applied at its steps (merged into the weights, or a separate path).</summary>
    public LoraMode LoraMode { get; init; } = LoraMode.Merged;
}

/// <summary>
/// A text-to-video pipeline assembled from a diffusers-layout folder (<c>model_index.json</c>, <c>scheduler/</c>,
/// <c>text_encoder/</c>, <c>tokenizer/</c>, <c>unet/</c> or <c>transformer/</c>, <c>vae/</c>): ModelScope /
/// zeroscope (UNet3DConditionModel + KL VAE), Latte (LatteTransformer3DModel + KL VAE) and CogVideoX
/// (CogVideoXTransformer3DModel + its 3D VAE). A folder without <c>vae/</c> denoises pixels (MotionTune's bundled
/// ShapesWorld models). bf16 weights on a GPU and fp32 on the CPU by default.
/// </summary>
public sealed class VideoPipeline : IDisposable
{
    /// <summary>The folder it was loaded from.</summary>
    public string Folder { get; }
    /// <summary>Which architecture the denoiser is.</summary>
    public Architecture Architecture { get; }
    /// <summary>The prompt encoder (tokenizer + text encoder).</summary>
    public IPromptEncoder Text { get; }
    /// <summary>Pixels ↔ latents.</summary>
    public IVideoAutoencoder Autoencoder { get; }
    /// <summary>The denoising network (UNet or transformer).</summary>
    public nn.Module Model { get; }
    /// <summary>The denoiser the sampler calls (a <see cref="CudaGraphDenoiser"/> around the model's wrapper).</summary>
    public IVideoDenoiser Denoiser { get; }
    /// <summary>The DDIM scheduler of the folder.</summary>
    public DdimScheduler Scheduler { get; }
    /// <summary>Where the networks run.</summary>
    public Device Device { get; }
    /// <summary>The denoiser's dtype.</summary>
    public ScalarType DType { get; }
    /// <summary>Sampling defaults.</summary>
    public PipelineDefaults Defaults { get; }

    private VideoPipeline(string folder, Architecture architecture, IPromptEncoder text, IVideoAutoencoder autoencoder, nn.Module model,
        IVideoDenoiser denoiser, DdimScheduler scheduler, Device device, ScalarType dtype, PipelineDefaults defaults)
    {
        // On CUDA the sampler's predictions replay CUDA graphs (a pass-through elsewhere, and while training).
        (Folder, Architecture, Text, Autoencoder, Model, Denoiser, Scheduler, Device, DType, Defaults) =
            (folder, architecture, text, autoencoder, model, new CudaGraphDenoiser(denoiser, model), scheduler, device, dtype, defaults);
    }

    /// <summary>
    /// Loads a pipeline folder. <paramref name="device"/> defaults to the best available; <paramref name="dtype"/> to bf16 on
    /// a GPU and fp32 on the CPU.
    /// </summary>
    /// <exception cref="FileNotFoundException">No model_index.json, or a component's files are missing.</exception>
    /// <exception cref="NotSupportedException">A denoiser or VAE class MotionTune does not implement.</exception>
    public static VideoPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        device ??= Runtime.TorchRuntime.DefaultDevice;
        dtype ??= device.type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
        var index = ModelIndex.Load(folder);
        var (component, className) = index.Components.TryGetValue("unet", out var unet) ? ("unet", unet.ClassName)
            : index.Components.TryGetValue("transformer", out var transformer) ? ("transformer", transformer.ClassName)
            : throw new FileNotFoundException($"{folder}/model_index.json names neither a 'unet' nor a 'transformer' component.");
        var architecture = className switch
        {
            "UNet3DConditionModel" => Architecture.ModelScope,
            "LatteTransformer3DModel" => Architecture.Latte,
            "CogVideoXTransformer3DModel" => Architecture.CogVideoX,
            _ => throw new NotSupportedException($"{folder}: denoiser class '{className}' is not supported " +
                 "(UNet3DConditionModel, LatteTransformer3DModel, CogVideoXTransformer3DModel)."),
        };

        var scheduler = DdimScheduler.FromPretrained(folder);
        var modelFolder = index.ComponentFolder(component);
        IVideoAutoencoder autoencoder = LoadAutoencoder(index, folder, device, dtype.Value);
        nn.Module model;
        IVideoDenoiser denoiser;
        PipelineDefaults defaults;
        int scale = autoencoder.SpatialCompression;
        switch (architecture)
        {
            case Architecture.ModelScope:
            {
                var m = UNet3DConditionModel.FromPretrained(modelFolder, device, dtype);
                (model, denoiser) = (m, new UNet3DDenoiser(m));
                int side = (m.Config.SampleSize ?? 32) * scale;
                defaults = new PipelineDefaults { Frames = 16, Height = side, Width = side, Steps = 50, GuidanceScale = 9.0 };
                break;
            }
            case Architecture.Latte:
            {
                var m = LatteTransformer3DModel.FromPretrained(modelFolder, device, dtype);
                (model, denoiser) = (m, new LatteDenoiser(m));
                defaults = new PipelineDefaults { Frames = m.Config.VideoLength, Height = 512, Width = 512, Steps = 50, GuidanceScale = 7.5 };
                break;
            }
            default:
            {
                var m = CogVideoXTransformer3DModel.FromPretrained(modelFolder, device, dtype);
                (model, denoiser) = (m, new CogVideoXDenoiser(m, scale));
                defaults = new PipelineDefaults { Frames = 49, Height = 480, Width = 720, Steps = 50, GuidanceScale = 6.0 };
                break;
            }
        }
        defaults = ReadDefaultOverrides(Path.Combine(folder, "model_index.json"), defaults);
        // CogVideoX's positional table has a slot per text token: prompts are padded to the transformer's length.
        int? textLength = model is CogVideoXTransformer3DModel cog ? cog.Config.MaxTextSeqLength : null;
        var text = PromptEncoders.FromPipelineFolder(folder, architecture, device, dtype, textLength);
        model.eval();
        foreach (var p in model.parameters()) p.requires_grad_(false);
        return new VideoPipeline(folder, architecture, text, autoencoder, model, denoiser, scheduler, device, dtype.Value, defaults);
    }

    /// <summary>
    /// Assembles a pipeline from components built in code (models trained or initialised there, benchmarks with random
    /// weights) rather than read from a folder. The denoiser wrapper follows the model's class; the device and dtype are the
    /// model's. The pipeline owns (and disposes) every component.
    /// </summary>
    /// <exception cref="NotSupportedException">The model is not one of the three denoiser classes.</exception>
    public static VideoPipeline Assemble(string name, IPromptEncoder text, IVideoAutoencoder autoencoder, nn.Module model,
        DdimScheduler scheduler, PipelineDefaults defaults)
    {
        var (architecture, denoiser) = model switch
        {
            UNet3DConditionModel m => (Architecture.ModelScope, (IVideoDenoiser)new UNet3DDenoiser(m)),
            LatteTransformer3DModel m => (Architecture.Latte, new LatteDenoiser(m)),
            CogVideoXTransformer3DModel m => (Architecture.CogVideoX, new CogVideoXDenoiser(m, autoencoder.SpatialCompression)),
            _ => throw new NotSupportedException($"{name}: denoiser class '{model.GetType().Name}' is not supported."),
        };
        var first = model.parameters().First();
        model.eval();
        foreach (var p in model.parameters()) p.requires_grad_(false);
        return new VideoPipeline(name, architecture, text, autoencoder, model, denoiser, scheduler, first.device, first.dtype, defaults);
    }

    private static IVideoAutoencoder LoadAutoencoder(ModelIndex index, string folder, Device device, ScalarType dtype)
    {
        if (!index.Components.TryGetValue("vae", out var vae)) return new PixelSpace();
        var vaeFolder = index.ComponentFolder("vae");
        return vae.ClassName switch
        {
            // The SD VAE overflows in half precision (diffusers' force_upcast); it runs once per video, so fp32 costs little.
            "AutoencoderKL" => new FrameVae(AutoencoderKL.FromPretrained(vaeFolder, device, ScalarType.Float32)),
            "AutoencoderKLCogVideoX" => new CogVideoXVae(AutoencoderKLCogVideoX.FromPretrained(vaeFolder, device, dtype)),
            _ => throw new NotSupportedException($"{folder}: VAE class '{vae.ClassName}' is not supported (AutoencoderKL, AutoencoderKLCogVideoX)."),
        };
    }

    /// <summary>
    /// Optional <c>"_motiontune_defaults"</c> in model_index.json (frames, height, width, steps, guidance_scale,
    /// recommended_tau) for
    /// models whose diffusers pipeline has no such defaults (the bundled ShapesWorld models).
    /// </summary>
    private static PipelineDefaults ReadDefaultOverrides(string indexPath, PipelineDefaults defaults)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        if (!doc.RootElement.TryGetProperty("_motiontune_defaults", out var o)) return defaults;
        int Int(string name, int fallback) => o.TryGetProperty(name, out var v) ? v.GetInt32() : fallback;
        double Double(string name, double fallback) => o.TryGetProperty(name, out var v) ? v.GetDouble() : fallback;
        return defaults with
        {
            Frames = Int("frames", defaults.Frames), Height = Int("height", defaults.Height), Width = Int("width", defaults.Width),
            Steps = Int("steps", defaults.Steps), GuidanceScale = Double("guidance_scale", defaults.GuidanceScale),
            RecommendedTau = o.TryGetProperty("recommended_tau", out var tau) ? tau.GetInt32() : defaults.RecommendedTau,
        };
    }

    /// <summary>Text condition of one prompt.</summary>
    public TextCondition EncodePrompt(string prompt) => Text.Encode([prompt]);

    /// <summary>The negative condition of classifier-free guidance for <paramref name="conditional"/>.</summary>
    public TextCondition EncodeNegative(string negativePrompt, TextCondition conditional) => Text.EncodeNegative([negativePrompt], conditional);

    /// <summary>A sampler over this pipeline's denoiser and scheduler, switching <paramref name="adapters"/> per the plan.</summary>
    public VideoSampler Sampler(IAdapterSwitch? adapters = null) => new(Denoiser, Scheduler, adapters);

    /// <summary>Frames (F, H, W, 3) uint8 → scaled latents (1, C, f, h, w) on the pipeline's device.</summary>
    /// <exception cref="ArgumentException">The frames are not (F, H, W, 3) uint8 or their size does not fit the model.</exception>
    public Tensor EncodeFrames(Tensor frames)
    {
        if (frames.dim() != 4 || frames.shape[3] != 3 || frames.dtype != ScalarType.Byte)
            throw new ArgumentException($"Expected frames (F, H, W, 3) uint8, got [{string.Join(", ", frames.shape)}] {frames.dtype}.");
        int scale = Autoencoder.SpatialCompression;
        if (frames.shape[1] % scale != 0 || frames.shape[2] % scale != 0)
            throw new ArgumentException($"Frame size {frames.shape[2]}x{frames.shape[1]} is not a multiple of the VAE factor {scale}.");
        using var scope = NewDisposeScope();
        var pixels = frames.to(Device).permute(3, 0, 1, 2).unsqueeze(0).to(ScalarType.Float32).div(127.5).sub(1.0);
        return Autoencoder.Encode(pixels).to(DType).MoveToOuterDisposeScope();
    }

    /// <summary>Scaled latents (B, C, f, h, w) → frames (B, F, H, W, 3) uint8 on the CPU.</summary>
    public Tensor DecodeLatents(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var pixels = Autoencoder.Decode(latents);
        var frames = pixels.to(ScalarType.Float32).add(1.0).mul(127.5).clamp(0, 255).round().to(ScalarType.Byte);
        return frames.permute(0, 2, 3, 4, 1).contiguous().cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Seeded initial noise for a clip of the given size, in latent space.</summary>
    public Tensor InitialNoise(int frames, int height, int width, long seed)
    {
        int scale = Autoencoder.SpatialCompression;
        if (height % scale != 0 || width % scale != 0)
            throw new ArgumentException($"Height and width must be multiples of {scale}; got {height}x{width}.");
        var generator = new Generator((ulong)seed, CPU);
        long[] shape = [1, Autoencoder.LatentChannels, Autoencoder.LatentFrames(frames), height / scale, width / scale];
        using var noise = randn(shape, ScalarType.Float32, CPU, generator: generator);
        return noise.to(DType, Device);
    }

    /// <summary>
    /// Generates one video for <paramref name="prompt"/>: frames (F, H, W, 3) uint8. With a <paramref name="customization"/>
    /// it acts only at t ≥ <paramref name="tau"/> (the paper's timestep-constrained sampling); the prompt is the same at
    /// every step.
    /// </summary>
    public Tensor Generate(string prompt, GenerationOptions? options = null, ICustomization? customization = null, int? tau = null)
    {
        options ??= new GenerationOptions();
        int frames = options.Frames ?? Defaults.Frames, height = options.Height ?? Defaults.Height, width = options.Width ?? Defaults.Width;
        int steps = options.Steps ?? Defaults.Steps;
        double guidance = options.GuidanceScale ?? Defaults.GuidanceScale;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var condition = EncodePrompt(prompt);
        var negative = guidance > 1 ? EncodeNegative(options.NegativePrompt, condition) : null;
        var latents = InitialNoise(frames, height, width, options.Seed);
        var generator = options.Eta > 0 ? new Generator((ulong)options.Seed + 1, CPU) : null;
        Tensor result;
        if (customization is null)
        {
            Scheduler.SetTimesteps(steps);
            var plan = TimestepPlan.Plain(Scheduler.Timesteps, guidance);
            result = Sampler().Sample(latents, plan, new SamplingPrompts(condition, Negative: negative), options.Eta, generator, options.Progress);
        }
        else
        {
            int boundary = tau ?? throw new ArgumentNullException(nameof(tau), "A customization needs its boundary timestep tau.");
            result = CustomizedSampling.Sample(Sampler(customization), customization, boundary, latents, steps,
                new SamplingPrompts(condition, Negative: negative), guidance, options.LoraMode, options.Eta, generator, options.Progress);
        }
        return DecodeLatents(result)[0].MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Text.Dispose();
        Autoencoder.Dispose();
        (Denoiser as IDisposable)?.Dispose();
        Model.Dispose();
    }
}
