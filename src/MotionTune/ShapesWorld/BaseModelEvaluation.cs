using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using MotionTune.IO;
using MotionTune.Pipelines;
using MotionTune.Schedulers;
using MotionTune.ShapesWorld.Metrics;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>What a text-to-video model needs to generate clips for an evaluation: a pipeline's parts, or a model in training.</summary>
/// <param name="Denoiser">The denoiser.</param>
/// <param name="Scheduler">Its DDIM scheduler (its timesteps are set by each run).</param>
/// <param name="Text">The prompt encoder.</param>
/// <param name="Defaults">Frames, size, steps and guidance when the options leave them unset.</param>
/// <param name="Device">Where the denoiser runs.</param>
/// <param name="DType">The latents' dtype (the denoiser's).</param>
/// <param name="Autoencoder">The latent space (<see cref="PixelSpace"/> for the pixel-space models); not owned.</param>
public sealed record SamplingModel(IVideoDenoiser Denoiser, DdimScheduler Scheduler, IPromptEncoder Text, PipelineDefaults Defaults,
    Device Device, ScalarType DType, IVideoAutoencoder Autoencoder)
{
    /// <summary>The parts of a loaded pipeline.</summary>
    public static SamplingModel Of(VideoPipeline pipeline) =>
        new(pipeline.Denoiser, pipeline.Scheduler, pipeline.Text, pipeline.Defaults, pipeline.Device, pipeline.DType, pipeline.Autoencoder);

    /// <summary>The latent shape (C, f, h, w) of a clip at the default size.</summary>
    public long[] LatentShape()
    {
        int scale = Autoencoder.SpatialCompression;
        return [Autoencoder.LatentChannels, Autoencoder.LatentFrames(Defaults.Frames), Defaults.Height / scale, Defaults.Width / scale];
    }

    /// <summary>Latents (B, C, f, h, w) to (B, F, H, W, 3) uint8 frames on the CPU.</summary>
    public Tensor Decode(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var frames = Autoencoder.Decode(latents).to(ScalarType.Float32).add(1.0).mul(127.5).clamp(0, 255).round().to(ScalarType.Byte);
        return frames.permute(0, 2, 3, 4, 1).contiguous().cpu().MoveToOuterDisposeScope();
    }
}

/// <summary>Settings of a base-model evaluation.</summary>
public sealed record BaseEvaluationOptions
{
    /// <summary>Clips to generate, one per held-out caption.</summary>
    public int Samples { get; init; } = 128;
    /// <summary>Seed of the captions (held-out dataset items) and of each clip's initial noise.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Sampling steps (default: the model's).</summary>
    public int? Steps { get; init; }
    /// <summary>Guidance scale (default: the model's).</summary>
    public double? GuidanceScale { get; init; }
    /// <summary>Clips sampled together (default: 64 on a GPU, 4 on the CPU).</summary>
    public int? BatchSize { get; init; }
}

/// <summary>One base-model quality gate: an accuracy, its threshold, and whether it is met.</summary>
/// <param name="Name">colour, background, shape or motion.</param>
/// <param name="Value">The measured accuracy in [0, 1].</param>
/// <param name="Threshold">The least accuracy that passes.</param>
public sealed record GateResult(string Name, double Value, double Threshold)
{
    /// <summary>Whether the gate is met.</summary>
    public bool Passed => Value >= Threshold;
}

/// <summary>How one generated clip reads.</summary>
/// <param name="Caption">The caption it was generated from.</param>
/// <param name="Seed">Its noise seed.</param>
/// <param name="Colour">Share of frames with the caption's colour.</param>
/// <param name="Shape">Share of frames with the caption's shape.</param>
/// <param name="Background">Share of frames with the caption's background.</param>
/// <param name="MotionCorrect">Whether the centroid path is classified as the caption's motion.</param>
/// <param name="ReadColour">The colour most frames show (null: no object found).</param>
/// <param name="ReadShape">The shape most frames show.</param>
/// <param name="ReadBackground">The background most frames show.</param>
/// <param name="ReadMotion">The motion class of the path (null: too few frames with an object).</param>
public sealed record ClipEvaluation(string Caption, long Seed, double Colour, double Shape, double Background, bool MotionCorrect,
    string? ReadColour, string? ReadShape, string? ReadBackground, string? ReadMotion);

/// <summary>The result of <see cref="BaseModelEvaluation.Evaluate"/>.</summary>
/// <param name="Accuracy">The gate metrics over all clips (<see cref="CaptionAccuracy"/>).</param>
/// <param name="Steps">Sampling steps used.</param>
/// <param name="GuidanceScale">Guidance scale used.</param>
/// <param name="Seed">Caption and noise seed.</param>
/// <param name="Seconds">Wall time of generation and measurement.</param>
/// <param name="Clips">Per-clip readings.</param>
public sealed record BaseEvaluation(CaptionAccuracy Accuracy, int Steps, double GuidanceScale, int Seed, double Seconds, IReadOnlyList<ClipEvaluation> Clips)
{
    /// <summary>The four base-model gates: colour ≥ 90 %, background ≥ 90 %, shape ≥ 75 %, motion class ≥ 80 %.</summary>
    public IReadOnlyList<GateResult> Gates =>
    [
        new("colour", Accuracy.Colour, 0.90),
        new("background", Accuracy.Background, 0.90),
        new("shape", Accuracy.Shape, 0.75),
        new("motion", double.IsNaN(Accuracy.Motion) ? 0 : Accuracy.Motion, 0.80),
    ];

    /// <summary>Whether every gate is met.</summary>
    public bool Passed => Gates.All(g => g.Passed);

    /// <summary>
    /// A ranking score for choosing between candidates: gates met, then the sum of each gate's value over its threshold
    /// (capped at 1, so surplus on one gate does not hide a shortfall on another).
    /// </summary>
    public double Score => Gates.Count(g => g.Passed) + Gates.Sum(g => Math.Min(g.Value / g.Threshold, 1.0)) / Gates.Count;

    /// <summary>One line: the four accuracies with a mark for each gate.</summary>
    public string Summary() => string.Join("  ", Gates.Select(g => $"{g.Name} {g.Value * 100:F1}% {(g.Passed ? "pass" : "FAIL")} (>= {g.Threshold * 100:F0}%)"));

    /// <summary>The evaluation as indented JSON (gates, settings, per-clip readings).</summary>
    public string ToJson(string? model = null) => JsonSerializer.Serialize(new
    {
        model,
        samples = Accuracy.Clips,
        seed = Seed,
        steps = Steps,
        guidance_scale = GuidanceScale,
        seconds = Math.Round(Seconds, 1),
        passed = Passed,
        gates = Gates.Select(g => new { name = g.Name, value = g.Value, threshold = g.Threshold, passed = g.Passed }),
        clips = Clips,
    }, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new(ConfigFile.JsonOptions)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>
/// The base models' quality gates: generate one clip per caption of the held-out appearance triples (with a
/// library motion named, as in training), then read each clip with the exact ShapesWorld metrics: colour, background
/// and shape accuracy (share of frames), and motion-class accuracy (share of clips), as
/// <see cref="CaptionAccuracy.Measure"/> computes them.
/// </summary>
public static class BaseModelEvaluation
{
    /// <summary>The held-out captions of an evaluation: items 0 … count − 1 of the held-out split for <paramref name="seed"/>.</summary>
    public static IReadOnlyList<string> HeldOutCaptions(int count, int seed) =>
        new ShapesDataset(seed).Items(0, count, DatasetSplit.HeldOut).Select(i => i.Caption).ToArray();

    /// <summary>
    /// Generates and measures. Clip i uses caption i of <see cref="HeldOutCaptions"/> and noise seed <c>seed · 100003 + i</c> drawn
    /// on the CPU (as <see cref="VideoPipeline.InitialNoise"/> draws it), so a clip does not depend on the batch size.
    /// </summary>
    /// <param name="model">What to sample from.</param>
    /// <param name="options">Samples, seed, steps, guidance, batch size.</param>
    /// <param name="progress">Called with (clips done, clips) after each batch.</param>
    /// <exception cref="ArgumentException">Non-positive samples or batch size.</exception>
    public static BaseEvaluation Evaluate(SamplingModel model, BaseEvaluationOptions? options = null, Action<int, int>? progress = null)
    {
        options ??= new BaseEvaluationOptions();
        if (options.Samples < 1) throw new ArgumentException($"Samples must be positive, got {options.Samples}.", nameof(options));
        int batch = options.BatchSize ?? (model.Device.type == TorchSharp.DeviceType.CUDA ? 64 : 4);
        if (batch < 1) throw new ArgumentException($"Batch size must be positive, got {batch}.", nameof(options));
        var d = model.Defaults;
        int steps = options.Steps ?? d.Steps;
        double guidance = options.GuidanceScale ?? d.GuidanceScale;
        var captions = HeldOutCaptions(options.Samples, options.Seed);
        var watch = Stopwatch.StartNew();

        var clips = new List<ClipEvaluation>();
        var sampler = new VideoSampler(model.Denoiser, model.Scheduler);
        for (int start = 0; start < captions.Count; start += batch)
        {
            var chunk = captions.Skip(start).Take(batch).ToArray();
            var seeds = Enumerable.Range(start, chunk.Length).Select(i => (long)options.Seed * 100003 + i).ToArray();
            using var frames = Generate(model, sampler, chunk, seeds, steps, guidance);
            for (int i = 0; i < chunk.Length; i++)
            {
                using var clip = frames[i];
                clips.Add(Read(clip, chunk[i], seeds[i]));
            }
            progress?.Invoke(clips.Count, captions.Count);
        }

        // The means of the per-clip values are CaptionAccuracy.Measure over all clips (every caption names a motion).
        var accuracy = new CaptionAccuracy(clips.Average(c => c.Colour), clips.Average(c => c.Shape), clips.Average(c => c.Background),
            clips.Average(c => c.MotionCorrect ? 1.0 : 0.0), clips.Count);
        return new BaseEvaluation(accuracy, steps, guidance, options.Seed, watch.Elapsed.TotalSeconds, clips);
    }

    /// <summary>Generates (B, F, H, W, 3) uint8 clips for <paramref name="captions"/>, one noise seed each.</summary>
    public static Tensor Generate(SamplingModel model, VideoSampler sampler, IReadOnlyList<string> captions, IReadOnlyList<long> seeds, int steps, double guidance)
    {
        var d = model.Defaults;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var condition = model.Text.Encode(captions);
        var negative = guidance > 1 ? model.Text.EncodeNegative([""], condition) : null;
        var noise = seeds.Select(seed =>
        {
            var generator = new Generator((ulong)seed, CPU);
            return randn([1, .. model.LatentShape()], ScalarType.Float32, CPU, generator: generator);
        }).ToArray();
        var latents = cat(noise).to(model.DType, model.Device);
        model.Scheduler.SetTimesteps(steps);
        var plan = TimestepPlan.Plain(model.Scheduler.Timesteps, guidance);
        var result = sampler.Sample(latents, plan, new SamplingPrompts(condition, Negative: negative));
        return model.Decode(result).MoveToOuterDisposeScope();
    }

    /// <summary>Reads one generated clip against its caption (the computation of <see cref="CaptionAccuracy.Measure"/>, per clip).</summary>
    public static ClipEvaluation Read(Tensor frames, string caption, long seed)
    {
        var content = Captions.Parse(caption);
        var reading = FrameReader.Read(frames);
        var shares = AppearanceMetrics.Alignment(reading, content.Appearance);
        var motion = MotionClassifier.Classify(reading.Path).Motion;
        static string? Mode(IEnumerable<string?> values) =>
            values.Where(v => v is not null).GroupBy(v => v).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault();
        return new ClipEvaluation(caption, seed, shares.Colour, shares.Shape, shares.Background, motion == content.Motion,
            Mode(reading.Frames.Select(f => f.Colour)), Mode(reading.Frames.Select(f => f.Shape)), Mode(reading.Frames.Select(f => f.Background)), motion);
    }
}
