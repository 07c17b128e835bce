using System.Diagnostics;
using System.Net;
using System.Text;
using MotionTune.Customization;
using MotionTune.Evaluation;
using MotionTune.IO;
using MotionTune.Pipelines;
using MotionTune.Probe;
using MotionTune.Reports;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Demo;

/// <summary>What the demo does; the defaults fit a 2-core CPU in about two minutes.</summary>
public sealed record DemoOptions
{
    /// <summary>The bundled model folder (a ShapesWorld pipeline).</summary>
    public required string Model { get; init; }
    /// <summary>Where everything is written.</summary>
    public required string Output { get; init; }
    /// <summary>The custom motion of the reference clip (one of the shipped motions).</summary>
    public string Motion { get; init; } = "figure-eight";
    /// <summary>Customization steps (LoRA, rank 4).</summary>
    public int TrainingSteps { get; init; } = 150;
    /// <summary>Customization learning rate (the small models were trained at 1e-3).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Sampling steps of the generated videos.</summary>
    public int SamplingSteps { get; init; } = 25;
    /// <summary>Probe grid interval (coarser than the paper's 100, to stay fast on a CPU).</summary>
    public int ProbeInterval { get; init; } = 250;
    /// <summary>Sampling steps of the probe.</summary>
    public int ProbeSteps { get; init; } = 12;
    /// <summary>The boundary τ to customize at; default: the model's recommended one (its folder's, else this run's probe's).</summary>
    public int? Tau { get; init; }
    /// <summary>Seed of the task and of the first sample.</summary>
    public int Seed { get; init; }
    /// <summary>Samples per edit prompt (seeds Seed, Seed + 1, ...): one seed says little about a method.</summary>
    public int Seeds { get; init; } = 2;
}

/// <summary>One generated video of the demo and its exact metrics.</summary>
public sealed record DemoSample(string Label, string Prompt, int Tau, long Seed, string Gif, IReadOnlyDictionary<string, double> Metrics);

/// <summary>Everything the demo wrote.</summary>
public sealed record DemoResult(string Report, string ReferenceGif, IReadOnlyList<DemoSample> Samples, int Tau, ProbeReportFiles Probe, TimeSpan Elapsed);

/// <summary>
/// The method end to end on a bundled ShapesWorld model: render a reference clip with a custom motion the model never saw,
/// probe where the model decides motion versus appearance, customize a temporal LoRA at the recommended τ and, as the
/// baseline, at τ = 0 (all timesteps), generate edited videos with both, score them exactly and write GIFs and an HTML
/// report.
/// </summary>
public static class Demo
{
    /// <summary>Runs the demo; <paramref name="log"/> receives one line per phase.</summary>
    public static DemoResult Run(DemoOptions options, Action<string> log, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var output = Path.GetFullPath(options.Output);
        Directory.CreateDirectory(output);
        using var pipeline = VideoPipeline.FromPretrained(options.Model, CPU, ScalarType.Float32);
        int frames = pipeline.Defaults.Frames, height = pipeline.Defaults.Height, width = pipeline.Defaults.Width;

        // 1. The task: a reference clip with a custom motion, its caption (appearance only), and edit prompts.
        var motion = CustomMotions.BuiltIn().FirstOrDefault(m => m.Name == options.Motion)
                     ?? throw new ArgumentException($"--motion: no shipped motion '{options.Motion}' (see {CustomMotions.BuiltInFolder}).");
        var task = TaskSet.Create([motion], options.Seed)[0];
        var tasks = Path.Combine(output, "task");
        TaskSet.Write(tasks, [task], new RenderSettings { Height = height, Width = width }, frames, overwrite: true);
        using var reference = TaskSet.ReadFrames(tasks, task.Name);
        var referenceGif = WriteGif(output, "reference", reference);
        log($"reference: {task.Caption} — custom motion '{motion.Name}'");

        // 2. The probe: DDIM-invert the reference, resample with an edited caption inside each window, score exactly.
        var probeFolder = Path.Combine(output, "probe");
        var store = new ProbeResultStore(Path.Combine(probeFolder, "results"), new ProbeGrid(options.ProbeInterval));
        var runner = new TimestepProbeRunner(pipeline, new ShapesAppearanceScorer(),
            new ProbeRunOptions { Grid = new ProbeGrid(options.ProbeInterval), Steps = options.ProbeSteps, Model = Path.GetFileName(options.Model) });
        var framesFolder = Path.Combine(tasks, TaskSet.FramesFolder, task.Name);
        runner.Run([new ProbeInput(task.Name, framesFolder, task.Caption, task.Prompt(EditKinds.Style))], store, cancellation: cancellation);
        var probe = ProbeReport.Write(Path.Combine(probeFolder, "report"), store.LoadAll().Results);
        log($"probe: {probe.Summary.Cells.Count} windows; {File.ReadAllText(probe.RecommendationText).Split('\n')[0]}");
        // The paper's recipe: a probe picks the boundary. The model's recorded one comes from a probe over eight tasks at
        // the paper's grid (docs/results); this run's one-clip coarse probe decides only where the folder records none.
        int tau = options.Tau ?? pipeline.Defaults.RecommendedTau ?? probe.Summary.Recommendation.Tau
                  ?? CustomizationOptions.RecommendedTau(pipeline.Architecture);
        string tauSource = options.Tau is not null ? "given on the command line"
            : pipeline.Defaults.RecommendedTau is not null ? "the model's recommended boundary, from a probe over eight tasks on the paper's grid"
            : "the boundary this run's probe recommends";
        if (options.Tau is null && pipeline.Defaults.RecommendedTau is int recorded)
            log($"customizing at the model's recommended tau = {recorded} (this run's one-clip probe says {probe.Summary.Recommendation.Tau?.ToString() ?? "none"})");
        int maxTimestep = pipeline.Scheduler.Config.NumTrainTimesteps;
        if (tau >= maxTimestep)
        {
            // τ = T would train nothing; the grid's next boundary is the closest customization to it.
            log($"the probe recommends tau = {tau} (the edit throughout); customizing at {maxTimestep - options.ProbeInterval} instead");
            tau = maxTimestep - options.ProbeInterval;
        }

        // 3. Customize at τ and at τ = 0, 4. generate edits with both, 5. score them exactly.
        var scorer = ShapesTaskScorer.Load(tasks);
        var samples = new List<DemoSample>();
        string[] edits = [EditKinds.Style, EditKinds.Background];
        foreach (var boundary in new[] { tau, 0 }.Distinct())
        {
            var settings = CustomizationOptions.ForArchitecture(pipeline.Architecture) with
            {
                Tau = boundary, Steps = options.TrainingSteps, CheckpointEvery = 0, Seed = options.Seed, LearningRate = options.LearningRate,
            };
            var training = Stopwatch.StartNew();
            var trained = PipelineCustomizer.Train(pipeline, reference, task.Caption, settings, cancellation: cancellation);
            using var customization = trained.Customization;
            log($"customized at tau = {boundary}: {options.TrainingSteps} steps in {training.Elapsed.TotalSeconds:F0} s, " +
                $"loss {trained.Result.Losses.Take(10).Average():F3} -> {trained.Result.Losses.TakeLast(10).Average():F3}");
            foreach (var kind in edits)
                for (int s = 0; s < options.Seeds; s++)
                {
                    var prompt = task.Prompt(kind);
                    long seed = options.Seed + s;
                    using var video = pipeline.Generate(prompt, new GenerationOptions { Steps = options.SamplingSteps, Seed = seed },
                        customization, boundary);
                    var label = $"{kind}, tau {boundary}, seed {seed}";
                    var gif = WriteGif(output, $"{kind}_tau{boundary}_seed{seed}", video);
                    var metrics = scorer.Score(task.Name, prompt, video, reference);
                    samples.Add(new DemoSample(label, prompt, boundary, seed, gif, metrics));
                    log($"  {label}: \"{prompt}\" colour {Metric(metrics, "alignment_colour", "P0")}, background {Metric(metrics, "alignment_background", "P0")}, " +
                        $"shape {Metric(metrics, "alignment_shape", "P0")}, leakage {Metric(metrics, "leakage", "P0")}, " +
                        $"motion (displacement cosine) {Metric(metrics, "displacement_cosine", "F2")}");
                }
        }

        var report = Path.Combine(output, "report.html");
        AtomicFile.WriteAllText(report, Html(task, motion.Name, tau, tauSource, Path.GetFileName(referenceGif), samples, probe, output));
        return new DemoResult(report, referenceGif, samples, tau, probe, clock.Elapsed);
    }

    /// <summary>A metric for display; "n/a" where the reading had no value (e.g. no object found in the frames).</summary>
    private static string Metric(IReadOnlyDictionary<string, double> metrics, string key, string format) =>
        metrics.TryGetValue(key, out var v) && !double.IsNaN(v) ? v.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "n/a";

    private static string WriteGif(string folder, string name, Tensor frames)
    {
        var path = Path.Combine(folder, $"{name}.gif");
        using var big = frames.permute(0, 3, 1, 2).to(ScalarType.Float32);
        // Upscaled 8x (nearest) so the tiny clips are visible in a browser.
        using var scaled = nn.functional.interpolate(big, scale_factor: [8, 8], mode: InterpolationMode.Nearest);
        using var bytes = scaled.clamp(0, 255).to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous();
        VideoFile.Write(path, bytes, 8);
        return path;
    }

    private static string Html(ShapesTask task, string motion, int tau, string tauSource, string referenceGif, IReadOnlyList<DemoSample> samples,
        ProbeReportFiles probe, string output)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        string Rel(string path) => E(Path.GetRelativePath(output, path));
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>MotionTune demo</title><style>")
            .Append("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}")
            .Append("figure{display:inline-block;margin:.5em;text-align:center}img{image-rendering:pixelated}</style></head><body>")
            .Append("<h1>MotionTune demo: timestep-constrained one-shot motion customization</h1>")
            .Append($"<p>Reference clip: <b>{E(task.Caption)}</b>, moving along the custom motion <b>{E(motion)}</b>, which the base model never saw. ")
            .Append($"A rank-4 temporal LoRA was trained on this one clip only at t &ge; &tau; = {tau} ({E(tauSource)}; the paper's method) and, as the ")
            .Append("baseline, at all timesteps (&tau; = 0); each then generated edited videos, with the LoRA applied only where it was trained.</p>")
            .Append($"<figure><img src=\"{E(referenceGif)}\" width=\"192\"><figcaption>reference</figcaption></figure>")
            .Append("<h2>Generated videos</h2><table><tr><th>video</th><th>prompt</th><th>&tau;, seed</th><th>colour</th><th>background</th><th>shape</th>")
            .Append("<th>leakage</th><th>motion: displacement cosine</th><th>motion: trajectory distance</th><th>flow similarity</th></tr>");
        foreach (var s in samples)
        {
            string M(string key, string format) => Metric(s.Metrics, key, format);
            html.Append($"<tr><td><img src=\"{Rel(s.Gif)}\" width=\"96\"></td><td>{E(s.Prompt)}</td><td>{s.Tau}, {s.Seed}</td>")
                .Append($"<td>{M("alignment_colour", "P0")}</td><td>{M("alignment_background", "P0")}</td><td>{M("alignment_shape", "P0")}</td><td>{M("leakage", "P0")}</td><td>{M("displacement_cosine", "F2")}</td>")
                .Append($"<td>{M("trajectory_distance", "F3")}</td><td>{M("shapes_flow_similarity", "F2")}</td></tr>");
        }
        html.Append("</table><p>Colour, background, shape: share of frames showing the prompt's; leakage: share showing ")
            .Append("the reference's where the prompt changed it; motion: cosine of the per-frame displacements against the reference path ")
            .Append("(1 is the same motion) and the distance between the centred paths (0 is the same path). See docs/shapesworld.md.</p>")
            .Append("<h2>Timestep probe</h2>")
            .Append($"<p>{E(File.ReadAllText(probe.RecommendationText))}</p>")
            .Append($"<img src=\"{Rel(probe.ClipHeatmap.Png)}\" width=\"420\"> <img src=\"{Rel(probe.FlowHeatmap.Png)}\" width=\"420\">")
            .Append($"<br><img src=\"{Rel(probe.TradeOff.Png)}\" width=\"560\"></body></html>");
        return html.ToString();
    }
}
