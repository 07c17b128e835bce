using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Metrics;
using MotionTune.Pipelines;
using MotionTune.ShapesWorld.Metrics;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Evaluation;

/// <summary>Settings of an evaluation run.</summary>
public sealed record EvaluationRunOptions
{
    /// <summary><c>--out</c>: the run's folder (JSONL, samples, customizations).</summary>
    public required string OutputFolder { get; init; }
    /// <summary>
    /// <c>--tau</c>: the customization is trained on t ∈ [τ, T) and applied at t ≥ τ. τ = T (1000) is the untuned base
    /// model (nothing is trained), τ = 0 the classic all-timestep customization.
    /// </summary>
    public required int Tau { get; init; }
    /// <summary><c>--seeds</c>: samples per prompt, with seeds 0 … K − 1.</summary>
    public int Seeds { get; init; } = 1;
    /// <summary><c>--edits</c>: the edit prompts to sample, by kind (<see cref="EditKinds"/>).</summary>
    public IReadOnlyList<string> Kinds { get; init; } = EditKinds.All;
    /// <summary><c>--shard</c>: which videos this run takes.</summary>
    public ShardSpec Shard { get; init; } = ShardSpec.All;
    /// <summary><c>--limit</c>: at most this many of the shard's videos (the first ones); null: all.</summary>
    public int? Limit { get; init; }
    /// <summary><c>--model-name</c>: the records' model (default: the pipeline folder's name).</summary>
    public string? Model { get; init; }
    /// <summary><c>--variant</c>: the records' variant (empty: the default setting).</summary>
    public string Variant { get; init; } = "";
    /// <summary>The customization flags; <see cref="CustomizationOptions.Tau"/> is replaced by <see cref="Tau"/>.</summary>
    public CustomizationOptions Customization { get; init; } = new();
    /// <summary><c>--frames</c> of the reference and the samples (default: the pipeline's).</summary>
    public int? Frames { get; init; }
    /// <summary><c>--height</c> (default: the pipeline's).</summary>
    public int? Height { get; init; }
    /// <summary><c>--width</c> (default: the pipeline's).</summary>
    public int? Width { get; init; }
    /// <summary><c>--sample-steps</c>: DDIM steps per sample (default: the pipeline's).</summary>
    public int? SampleSteps { get; init; }
    /// <summary><c>--guidance</c> (default: the pipeline's).</summary>
    public double? GuidanceScale { get; init; }
    /// <summary><c>--negative</c>: the negative prompt.</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary><c>--eta</c>: DDIM η of the samples.</summary>
    public double Eta { get; init; }
    /// <summary><c>--sample-format</c>: mp4, gif, or png (a folder of frames).</summary>
    public string SampleFormat { get; init; } = "mp4";
    /// <summary>Frames per second of written samples.</summary>
    public double Fps { get; init; } = 8;

    /// <summary>Checks the settings against the scheduler's <paramref name="numTrainTimesteps"/>.</summary>
    /// <exception cref="ArgumentException">Every bad setting, named by its flag.</exception>
    public void Validate(int numTrainTimesteps)
    {
        var problems = new List<string>();
        if (Tau < 0 || Tau > numTrainTimesteps)
            problems.Add($"--tau {Tau} is out of range [0, {numTrainTimesteps}] ({numTrainTimesteps}: the untuned base model)");
        if (Seeds < 1) problems.Add($"--seeds must be at least 1, not {Seeds}");
        if (Kinds.Count == 0) problems.Add("--edits names no edit kind");
        foreach (var kind in Kinds.Where(k => !EditKinds.All.Contains(k)))
            problems.Add($"--edits: '{kind}' is not one of {string.Join(", ", EditKinds.All)}");
        if (Kinds.Distinct().Count() != Kinds.Count) problems.Add("--edits names a kind twice");
        if (Limit is < 1) problems.Add($"--limit must be positive, not {Limit}");
        if (SampleSteps is < 1) problems.Add($"--sample-steps must be positive, not {SampleSteps}");
        if (GuidanceScale is double g && (!double.IsFinite(g) || g < 0)) problems.Add($"--guidance must be a non-negative number, not {g}");
        if (!(Eta >= 0) || !double.IsFinite(Eta)) problems.Add($"--eta must be a non-negative number, not {Eta}");
        if (SampleFormat is not ("mp4" or "gif" or "png")) problems.Add($"--sample-format '{SampleFormat}' is not mp4, gif or png");
        if (string.IsNullOrWhiteSpace(OutputFolder)) problems.Add("--out is empty");
        if (Tau < numTrainTimesteps)
        {
            try { (Customization with { Tau = Tau }).Validate(numTrainTimesteps); }
            catch (ArgumentException e) { problems.Add(e.Message.Replace("Invalid customization options:\n  ", "").Replace("\n  ", "; ")); }
        }
        if (problems.Count > 0) throw new ArgumentException("Invalid evaluation options:\n  " + string.Join("\n  ", problems));
    }
}

/// <summary>Where an evaluation run is.</summary>
/// <param name="Video">The current video.</param>
/// <param name="VideoIndex">Its 0-based position in this run.</param>
/// <param name="VideoCount">Videos in this run.</param>
/// <param name="Phase">"customizing", "sampling", "scoring", "done", "skipped".</param>
/// <param name="Done">Samples done for this video.</param>
/// <param name="Total">Samples this video needs.</param>
/// <param name="Training">The training step, while customizing.</param>
public sealed record EvaluationProgress(string Video, int VideoIndex, int VideoCount, string Phase, int Done, int Total, TrainingProgress? Training = null);

/// <summary>What an evaluation run did.</summary>
/// <param name="JsonlPath">The shard's JSONL file.</param>
/// <param name="Videos">Videos of the shard this run looked at.</param>
/// <param name="Written">Records appended.</param>
/// <param name="Skipped">Samples already in the file.</param>
public sealed record EvaluationRunResult(string JsonlPath, int Videos, int Written, int Skipped);

/// <summary>
/// The evaluation runner (paper section 4.1, Tables 1 and 2) over a loaded pipeline and a TGVE-format dataset. Per video
/// of the shard: customize the model to the video's motion at τ (τ = T: the untuned base model), sample each edit prompt
/// with seeds 0 … K − 1, score the samples (CLIP text alignment, temporal consistency and PickScore with
/// <see cref="VideoMetrics"/>, plus the optical-flow similarity to the reference as <c>flow_similarity</c>; with a
/// <see cref="ShapesTaskScorer"/> the ShapesWorld metrics), write the sample videos and append one record per sample to
/// the shard's JSONL file (<see cref="EvaluationJsonl"/>).
/// <para>
/// Resumable: samples already in the JSONL file are skipped; a prompt's records are appended together once all its
/// seeds are sampled (ShapesWorld's motion diversity is a property of the group). A trained customization is saved in
/// <c>customizations/</c> with its settings and reused by a rerun with the same settings; training itself checkpoints
/// into <c>checkpoints/&lt;video&gt;/</c> every <see cref="CustomizationOptions.CheckpointEvery"/> steps and resumes
/// from there. Afterwards <c>eval merge</c>, <c>eval summarize</c> and <c>eval report</c> finish the job.
/// </para>
/// </summary>
public sealed class EvaluationRunner
{
    /// <summary>Names of the extra metrics the runner itself records.</summary>
    public const string FlowSimilarityMetric = "flow_similarity", MotionDiversityMetric = "motion_diversity";

    private readonly VideoPipeline _pipeline;
    private readonly VideoMetrics? _clip;
    private readonly ShapesTaskScorer? _shapes;

    /// <summary>The settings.</summary>
    public EvaluationRunOptions Options { get; }

    /// <summary>The records' model name.</summary>
    public string ModelName => Options.Model ?? PipelineCustomizer.BaseModelName(_pipeline);

    /// <summary>The shard's JSONL file: <c>eval.jsonl</c>, or <c>eval.shard-i-of-n.jsonl</c> with shards.</summary>
    public string JsonlPath => Path.Combine(Options.OutputFolder,
        Options.Shard.Count == 1 ? "eval.jsonl" : $"eval.shard-{Options.Shard.Index}-of-{Options.Shard.Count}.jsonl");

    /// <summary>A runner over <paramref name="pipeline"/> with the metric models given (either may be null).</summary>
    /// <exception cref="ArgumentException">Bad settings (all named by their flags).</exception>
    public EvaluationRunner(VideoPipeline pipeline, EvaluationRunOptions options, VideoMetrics? clip = null, ShapesTaskScorer? shapes = null)
    {
        options.Validate(pipeline.Scheduler.Config.NumTrainTimesteps);
        var read = ReferenceVideo.ReadOptions(pipeline.Defaults, options.Frames, options.Height, options.Width);
        ReferenceVideo.CheckSize(pipeline, read.FrameCount!.Value, read.Height!.Value, read.Width!.Value);
        (_pipeline, Options, _clip, _shapes) = (pipeline, options, clip, shapes);
    }

    private bool Untuned => Options.Tau >= _pipeline.Scheduler.Config.NumTrainTimesteps;

    /// <summary>Runs the shard of <paramref name="dataset"/>.</summary>
    /// <exception cref="OperationCanceledException">Cancelled; finished prompts are in the JSONL file.</exception>
    public EvaluationRunResult Run(TgveDataset dataset, Action<EvaluationProgress>? progress = null, CancellationToken cancellation = default)
    {
        var entries = Options.Shard.Select(dataset.Entries);
        if (Options.Limit is int limit) entries = entries.Take(limit).ToArray();
        var done = EvaluationJsonl.CompletedKeys(JsonlPath);
        using var jsonl = EvaluationJsonl.Open(JsonlPath);
        int written = 0, skipped = 0;
        for (int v = 0; v < entries.Count; v++)
        {
            cancellation.ThrowIfCancellationRequested();
            var entry = entries[v];
            int index = v;
            void Report(EvaluationProgress p) => progress?.Invoke(p with { VideoIndex = index, VideoCount = entries.Count });
            var (w, s) = RunVideo(entry, done, jsonl, Report, cancellation);
            written += w;
            skipped += s;
        }
        return new EvaluationRunResult(JsonlPath, entries.Count, written, skipped);
    }

    private (int Written, int Skipped) RunVideo(TgveEntry entry, IReadOnlySet<SampleKey> done, EvaluationJsonl jsonl,
        Action<EvaluationProgress> report, CancellationToken cancellation)
    {
        var seeds = Enumerable.Range(0, Options.Seeds).Select(s => (long)s).ToArray();
        SampleKey Key(string kind, long seed) => new(ModelName, Options.Variant, Options.Tau, entry.Video, kind, seed);
        var pending = Options.Kinds.ToDictionary(k => k, k => seeds.Where(s => !done.Contains(Key(k, s))).ToArray());
        int total = Options.Kinds.Count * seeds.Length, skipped = total - pending.Values.Sum(p => p.Length);
        if (skipped == total)
        {
            report(new EvaluationProgress(entry.Video, 0, 0, "skipped", total, total));
            return (0, skipped);
        }

        using var reference = ReferenceVideo.Read(_pipeline, entry.VideoPath!, Options.Frames, Options.Height, Options.Width);
        int sampled = skipped;
        var customization = Customize(entry, reference.Frames, t => report(new EvaluationProgress(entry.Video, 0, 0, "customizing", sampled, total, t)), cancellation);
        try
        {
            int written = 0;
            foreach (var kind in Options.Kinds)
            {
                if (pending[kind].Length == 0) continue;
                var prompt = entry.Prompts[kind];
                // Diversity is a property of all the prompt's samples: a partly written group is sampled again whole (seeded, so identically).
                bool diversity = _shapes is not null && seeds.Length >= 2;
                var group = diversity ? seeds : pending[kind];
                var records = new List<(EvaluationRecord Record, Tensor? Frames)>();
                try
                {
                    foreach (var seed in group)
                    {
                        report(new EvaluationProgress(entry.Video, 0, 0, "sampling", sampled, total));
                        var (record, frames) = Sample(entry, kind, prompt, seed, reference.Frames, customization, write: pending[kind].Contains(seed), cancellation);
                        if (!diversity) frames.Dispose(); // only diversity needs the group's frames
                        records.Add((record, diversity ? frames : null));
                        if (pending[kind].Contains(seed)) sampled++;
                    }
                    double? spread = diversity ? ShapesTaskScorer.Diversity(records.Select(r => r.Frames!).ToArray()) : null;
                    foreach (var (record, _) in records.Where(r => pending[kind].Contains(r.Record.Seed)))
                    {
                        var final = spread is double d && double.IsFinite(d)
                            ? record with { Extra = new Dictionary<string, double>(record.Extra) { [MotionDiversityMetric] = d } }
                            : record;
                        jsonl.Append(final);
                        written++;
                    }
                }
                finally
                {
                    foreach (var (_, frames) in records) frames?.Dispose();
                }
            }
            report(new EvaluationProgress(entry.Video, 0, 0, "done", total, total));
            return (written, skipped);
        }
        finally
        {
            customization?.Dispose();
        }
    }

    private (EvaluationRecord, Tensor) Sample(TgveEntry entry, string kind, string prompt, long seed, Tensor reference, ICustomization? customization,
        bool write, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var options = new GenerationOptions
        {
            Frames = (int)reference.shape[0], Height = (int)reference.shape[1], Width = (int)reference.shape[2],
            Steps = Options.SampleSteps, GuidanceScale = Options.GuidanceScale, NegativePrompt = Options.NegativePrompt, Eta = Options.Eta, Seed = seed,
            Progress = _ => cancellation.ThrowIfCancellationRequested(),
        };
        var frames = _pipeline.Generate(prompt, options, customization, customization is null ? null : Options.Tau);
        try
        {
            string? output = null;
            if (write)
            {
                output = Path.Combine("samples", SafeFileName.For(entry.Video), $"{kind}.seed{seed}" + (Options.SampleFormat == "png" ? "" : "." + Options.SampleFormat));
                var path = Path.Combine(Options.OutputFolder, output);
                if (Options.SampleFormat == "png") VideoFile.WriteFrames(path, frames);
                else VideoFile.Write(path, frames, Options.Fps);
                output = output.Replace(Path.DirectorySeparatorChar, '/');
            }
            var extra = new Dictionary<string, double>();
            double? alignment = null, consistency = null, pick = null;
            if (_clip is not null)
            {
                var scores = _clip.Evaluate(frames, prompt, reference);
                (alignment, consistency, pick) = (scores.TextAlignment, scores.TemporalConsistency, scores.PickScore);
                if (scores.OpticalFlowSimilarity is double flow && double.IsFinite(flow)) extra[FlowSimilarityMetric] = flow;
            }
            if (_shapes is not null)
                foreach (var (name, value) in _shapes.Score(entry.Video, prompt, frames, reference)) extra[name] = value;
            var record = new EvaluationRecord
            {
                Model = ModelName, Variant = Options.Variant, Tau = Options.Tau, Video = entry.Video, VideoIndex = entry.Index,
                PromptKind = kind, Prompt = prompt, Seed = seed,
                TextAlignment = alignment, TemporalConsistency = consistency, PickScore = pick, Extra = extra,
                Output = output, Seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
            };
            return (record, frames);
        }
        catch
        {
            frames.Dispose();
            throw;
        }
    }

    /// <summary>The customization for <paramref name="entry"/>: none for the base model, a saved one with the same settings, or a new one.</summary>
    private ICustomization? Customize(TgveEntry entry, Tensor frames, Action<TrainingProgress> progress, CancellationToken cancellation)
    {
        if (Untuned) return null;
        var name = SafeFileName.For(entry.Video);
        var path = Path.Combine(Options.OutputFolder, "customizations", $"{name}.safetensors");
        var settingsPath = path + ".json";
        var options = Options.Customization with { Tau = Options.Tau };
        var settings = new SortedDictionary<string, string>(options.TrajectorySettings(), StringComparer.Ordinal)
        {
            ["--steps"] = options.Steps.ToString(CultureInfo.InvariantCulture),
            ["caption"] = entry.Caption,
            ["model"] = ModelName,
        };
        if (File.Exists(path) && File.Exists(settingsPath) && SameSettings(settingsPath, settings))
        {
            var loaded = CustomizationFile.Load(_pipeline.Model, path);
            loaded.Tau ??= Options.Tau;
            return loaded;
        }

        var checkpoints = Path.Combine(Options.OutputFolder, "checkpoints", name);
        bool resume = Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "checkpoint-*.safetensors").Any();
        options = options with
        {
            CheckpointDirectory = options.CheckpointEvery > 0 ? checkpoints : null,
            Resume = resume ? checkpoints : null,
            ValidateEvery = 0,
        };
        var trained = PipelineCustomizer.Train(_pipeline, frames, entry.Caption, options, progress, cancellation: cancellation);
        if (trained.Cancelled)
        {
            trained.Customization.Dispose();
            throw new OperationCanceledException($"customizing '{entry.Video}' was cancelled after step {trained.Result.Losses.Count}" +
                (trained.Result.LastCheckpoint is { } c ? $"; a rerun resumes from {c}" : ""), cancellation);
        }
        try
        {
            trained.Customization.Save(path);
            AtomicFile.WriteAllText(settingsPath, JsonSerializer.Serialize(settings, new JsonSerializerOptions { WriteIndented = true }));
            if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
            return trained.Customization;
        }
        catch
        {
            trained.Customization.Dispose();
            throw;
        }
    }

    private static bool SameSettings(string path, IReadOnlyDictionary<string, string> expected)
    {
        try
        {
            var saved = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path));
            if (saved is not null && saved.Count == expected.Count && expected.All(p => saved.TryGetValue(p.Key, out var v) && v == p.Value)) return true;
            Log.Warning($"{path}: the saved customization was trained with other settings; training again.");
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
