using System.Diagnostics;
using MotionTune.Customization;
using MotionTune.Evaluation;
using MotionTune.Pipelines;
using MotionTune.ShapesWorld.Metrics;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>One setting of a sweep: a name for the tables, the boundary τ, and what is trained (null: the untuned base model).</summary>
public sealed record SweepVariant(string Name, int Tau, CustomizationOptions? Customization);

/// <summary>What <see cref="ShapesSweep.Run"/> does.</summary>
public sealed record ShapesSweepOptions
{
    /// <summary>The ShapesWorld pipeline folder.</summary>
    public required string Model { get; init; }
    /// <summary>Output folder: <c>results.jsonl</c> (appended; finished samples are skipped on a rerun).</summary>
    public required string Output { get; init; }
    /// <summary>The τ values of the main sweep (the paper's Table 1 rows; 1000 = the base model, 0 = all timesteps).</summary>
    public IReadOnlyList<int> Taus { get; init; } = [1000, 900, 800, 700, 600, 500, 0];
    /// <summary>τ of the ablations (targets and rank, the paper's Tables 4 and 5); null: no ablations.</summary>
    public int? AblationTau { get; init; } = 700;
    /// <summary>Which ablations run at <see cref="AblationTau"/>: any of <see cref="ShapesSweep.AblationNames"/> (default: all).</summary>
    public IReadOnlyList<string> Ablations { get; init; } = ShapesSweep.AblationNames;
    /// <summary>Number of tasks (one per shipped custom motion, in name order).</summary>
    public int Tasks { get; init; } = 8;
    /// <summary>Seeds per edit prompt (two or more also give motion diversity).</summary>
    public int Seeds { get; init; } = 2;
    /// <summary>Edit kinds sampled per task.</summary>
    public IReadOnlyList<string> Kinds { get; init; } = EditKinds.All;
    /// <summary>Customization steps.</summary>
    public int Steps { get; init; } = 150;
    /// <summary>LoRA learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Learning rate of the full-parameter variant (it moves the weights themselves, so it takes a smaller one).</summary>
    public double FullLearningRate { get; init; } = 1e-4;
    /// <summary>Sampling steps (default: the pipeline's).</summary>
    public int? SampleSteps { get; init; }
    /// <summary>Seed of the task set.</summary>
    public int TaskSeed { get; init; }
    /// <summary>Where the model runs.</summary>
    public Device? Device { get; init; }
}

/// <summary>
/// The paper's τ sweep and ablations on a ShapesWorld model, all in memory: the tasks' reference clips are rendered on
/// the device, each variant customizes to each task, samples every edit prompt with every seed, and the exact ShapesWorld
/// metrics go to a JSONL that <see cref="EvaluationSummary"/> (<c>motiontune eval summarize</c>) turns into tables. It
/// reads and writes no video files, so it also runs on a GPU host without OpenCV; the paper's flow similarity needs
/// OpenCV's Lucas-Kanade and is added only where OpenCV loads.
/// </summary>
public static class ShapesSweep
{
    /// <summary>
    /// The ablations at the ablation τ: the rank-4 q, k, v, out LoRA they are read against (<c>r4</c>; run here only when
    /// the τ list does not already hold the ablation τ), LoRA on v and out only (<c>vo</c>), ranks 8 and 16 (<c>r8</c>,
    /// <c>r16</c>) and the full-parameter variant (<c>full</c>).
    /// </summary>
    public static IReadOnlyList<string> AblationNames { get; } = ["r4", "vo", "r8", "r16", "full"];

    /// <summary>The sweep's settings: every τ with the default LoRA, then the ablations at <see cref="ShapesSweepOptions.AblationTau"/>.</summary>
    /// <exception cref="ArgumentException">An unknown ablation name.</exception>
    public static IReadOnlyList<SweepVariant> Variants(ShapesSweepOptions options)
    {
        var unknown = options.Ablations.Except(AblationNames).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"Unknown ablation(s) {string.Join(", ", unknown)} (known: {string.Join(", ", AblationNames)}).");
        bool Wants(string name) => options.Ablations.Contains(name);
        CustomizationOptions Lora(int tau) => new()
        {
            Tau = tau, Steps = options.Steps, LearningRate = options.LearningRate, CheckpointEvery = 0,
        };
        var variants = options.Taus.Select(tau => new SweepVariant("qkvo r4", tau, tau >= 1000 ? null : Lora(tau))).ToList();
        if (options.AblationTau is int at)
        {
            if (Wants("vo")) variants.Add(new SweepVariant("vo r4", at, Lora(at) with { Targets = "temporal-vo" }));
            foreach (var rank in new[] { 8, 16 })
                if (Wants($"r{rank}")) variants.Add(new SweepVariant($"qkvo r{rank}", at, Lora(at) with { Rank = rank, Alpha = rank }));
            if (Wants("full")) variants.Add(new SweepVariant("qkvo full", at, Lora(at) with { Full = true, LearningRate = options.FullLearningRate }));
            if (Wants("r4") && !options.Taus.Contains(at)) variants.Add(new SweepVariant("qkvo r4", at, Lora(at)));
        }
        return variants;
    }

    /// <summary>Runs the sweep; returns the JSONL path. <paramref name="log"/> gets a line per customization.</summary>
    public static string Run(ShapesSweepOptions options, Action<string> log, CancellationToken cancellation = default)
    {
        if (options.Tasks < 1 || options.Seeds < 1 || options.Steps < 1)
            throw new ArgumentException("--tasks, --seeds and --steps must be positive.");
        var motions = CustomMotions.BuiltIn().OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
        if (options.Tasks > motions.Count)
            throw new ArgumentException($"--tasks {options.Tasks}: only {motions.Count} custom motions ship ({CustomMotions.BuiltInFolder}).");
        var tasks = TaskSet.Create(motions.Take(options.Tasks).ToList(), options.TaskSeed);

        using var pipeline = VideoPipeline.FromPretrained(options.Model, options.Device);
        var settings = new RenderSettings { Height = pipeline.Defaults.Height, Width = pipeline.Defaults.Width };
        var scorer = ShapesTaskScorer.FromTasks(tasks);
        bool flow = OpenCvRuntime.IsAvailable;
        if (!flow) log("OpenCV's native library is not available: the sweep leaves out the optical-flow similarity.");
        string model = Path.GetFileName(Path.GetFullPath(options.Model).TrimEnd(Path.DirectorySeparatorChar));

        Directory.CreateDirectory(options.Output);
        var jsonlPath = Path.Combine(options.Output, "results.jsonl");
        var done = EvaluationJsonl.CompletedKeys(jsonlPath);
        using var jsonl = EvaluationJsonl.Open(jsonlPath);
        var seeds = Enumerable.Range(0, options.Seeds).Select(s => (long)s).ToArray();
        foreach (var variant in Variants(options))
            for (int v = 0; v < tasks.Count; v++)
            {
                cancellation.ThrowIfCancellationRequested();
                var task = tasks[v];
                if (options.Kinds.All(k => seeds.All(s => done.Contains(new SampleKey(model, variant.Name, variant.Tau, task.Name, k, s))))) continue;
                using var reference = Renderer.Render(task.ReferenceClip(pipeline.Defaults.Frames), settings);
                var clock = Stopwatch.StartNew();
                PipelineCustomization? trained = variant.Customization is { } c
                    ? PipelineCustomizer.Train(pipeline, reference, task.Caption, c with { Seed = v }, cancellation: cancellation)
                    : null;
                try
                {
                    double trainSeconds = clock.Elapsed.TotalSeconds;
                    foreach (var kind in options.Kinds)
                    {
                        SampleKey Key(long seed) => new(model, variant.Name, variant.Tau, task.Name, kind, seed);
                        if (seeds.All(s => done.Contains(Key(s)))) continue;
                        // A partly written group is sampled again whole (seeded, so identically; diversity needs every seed)
                        // but only its missing records are appended.
                        var prompt = task.Prompt(kind);
                        var samples = new List<(long Seed, Tensor Frames, IReadOnlyDictionary<string, double> Metrics, double Seconds)>();
                        try
                        {
                            foreach (var seed in seeds)
                            {
                                var sampleClock = Stopwatch.StartNew();
                                var frames = pipeline.Generate(prompt, new GenerationOptions { Steps = options.SampleSteps, Seed = seed },
                                    trained?.Customization, trained is null ? null : variant.Tau);
                                samples.Add((seed, frames, scorer.Score(task.Name, prompt, frames, reference, flow), sampleClock.Elapsed.TotalSeconds));
                            }
                            double? diversity = samples.Count >= 2 ? ShapesTaskScorer.Diversity(samples.Select(s => s.Frames).ToList()) : null;
                            foreach (var (seed, _, metrics, seconds) in samples.Where(x => !done.Contains(Key(x.Seed))))
                            {
                                var extra = new Dictionary<string, double>(metrics);
                                if (diversity is double d && double.IsFinite(d)) extra[EvaluationRunner.MotionDiversityMetric] = d;
                                jsonl.Append(new EvaluationRecord
                                {
                                    Model = model, Variant = variant.Name, Tau = variant.Tau, Video = task.Name, VideoIndex = v,
                                    PromptKind = kind, Prompt = prompt, Seed = seed, Extra = extra, Seconds = Math.Round(seconds, 3),
                                });
                            }
                        }
                        finally
                        {
                            foreach (var s in samples) s.Frames.Dispose();
                        }
                    }
                    log($"{model} [{variant.Name}] tau {variant.Tau} task {task.Name}: " +
                        (trained is null ? "base model" : $"customized in {trainSeconds:F1} s") + $", sampled in {clock.Elapsed.TotalSeconds - trainSeconds:F1} s");
                }
                finally
                {
                    trained?.Customization.Dispose();
                }
            }
        return jsonlPath;
    }
}
