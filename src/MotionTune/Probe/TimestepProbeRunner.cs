using System.Diagnostics;
using System.Globalization;
using MotionTune.Metrics;
using MotionTune.Pipelines;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Probe;

/// <summary>Settings of a probe run.</summary>
public sealed record ProbeRunOptions
{
    /// <summary>The windows (<c>--interval</c>; the range is the scheduler's T).</summary>
    public ProbeGrid Grid { get; init; } = ProbeGrid.Default;
    /// <summary><c>--steps</c>: DDIM steps of the inversion and of every resampling.</summary>
    public int Steps { get; init; } = 50;
    /// <summary><c>--guidance</c>: classifier-free guidance scale of the resampling (1: none, as the paper's probe).</summary>
    public double GuidanceScale { get; init; } = 1;
    /// <summary>
    /// <c>--inversion-guidance</c>: guidance of the DDIM inversion. 1 (unguided, with c) is what makes DDIM invert: at
    /// higher scales the reconstruction drifts from the video.
    /// </summary>
    public double InversionGuidanceScale { get; init; } = 1;
    /// <summary>The negative prompt of guided steps.</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary><c>--no-cache</c> turns this off: sample every window from x_T (for checking; ~2.4× the steps).</summary>
    public bool Cached { get; init; } = true;
    /// <summary>Frames per clip (<c>--frames</c>; default: the pipeline's).</summary>
    public int? Frames { get; init; }
    /// <summary>Frame height (<c>--height</c>; default: the pipeline's).</summary>
    public int? Height { get; init; }
    /// <summary>Frame width (<c>--width</c>; default: the pipeline's).</summary>
    public int? Width { get; init; }
    /// <summary>The model's name in the records (default: the pipeline folder's name).</summary>
    public string? Model { get; init; }
    /// <summary><c>--save-videos</c>: a folder for every video's reconstruction and window samples (mp4); null: none.</summary>
    public string? VideoFolder { get; init; }
    /// <summary>Frames per second of saved videos.</summary>
    public double Fps { get; init; } = 8;
}

/// <summary>One video the probe should measure.</summary>
/// <param name="Video">Its name (the result file's name).</param>
/// <param name="Path">The video file or frame folder.</param>
/// <param name="Caption">c: its own caption (inversion, and outside the window).</param>
/// <param name="EditedCaption">c′: the edit (inside the window).</param>
public sealed record ProbeInput(string Video, string Path, string Caption, string EditedCaption)
{
    /// <summary>The store's job for this input.</summary>
    public ProbeJob Job => new(Video, Caption, EditedCaption);
}

/// <summary>Where a probe run is.</summary>
/// <param name="Video">The video being probed.</param>
/// <param name="VideoIndex">Its 0-based position among the videos of this run.</param>
/// <param name="VideoCount">Videos in this run.</param>
/// <param name="Phase">What is running ("inversion", "sampling", "scoring", "done", "skipped").</param>
/// <param name="Done">Units done in this video: denoising steps (inversion and sampling) and scored samples.</param>
/// <param name="Total">Units this video takes.</param>
public sealed record ProbeProgress(string Video, int VideoIndex, int VideoCount, string Phase, int Done, int Total);

/// <summary>
/// The timestep probe (paper section 3.2) over a loaded pipeline. Per video: read it at the pipeline's clip size, encode
/// it to x₀ latents, DDIM-invert with its caption c to x_T, sample the reconstruction x̂₀ (c at every step) and every
/// window of the grid (c′ inside [τ_end, τ_start], c outside; <see cref="ProbeSampler"/> shares the common steps),
/// decode, and score: the appearance score of each window's sample against c′ minus that of the original video (the
/// base score), and its optical-flow similarity to the reconstruction. Results go through a
/// <see cref="ProbeResultStore"/>, one file per finished video, so an interrupted run resumes where it stopped.
/// </summary>
public sealed class TimestepProbeRunner
{
    private readonly VideoPipeline _pipeline;
    private readonly IAppearanceScorer _scorer;

    /// <summary>The settings.</summary>
    public ProbeRunOptions Options { get; }

    /// <summary>A runner over <paramref name="pipeline"/>, scoring appearance with <paramref name="scorer"/>.</summary>
    /// <exception cref="ArgumentException">Bad settings: steps, guidance, a grid that is not on the scheduler's range, a bad clip size.</exception>
    public TimestepProbeRunner(VideoPipeline pipeline, IAppearanceScorer scorer, ProbeRunOptions options)
    {
        _pipeline = pipeline;
        _scorer = scorer;
        Options = options;
        int t = pipeline.Scheduler.Config.NumTrainTimesteps;
        if (options.Grid.MaxTimestep != t)
            throw new ArgumentException($"The probe grid runs over [0, {options.Grid.MaxTimestep}] but the scheduler has {t} training timesteps.");
        if (options.Steps < 1) throw new ArgumentException($"--steps must be positive, not {options.Steps}.");
        if (!double.IsFinite(options.GuidanceScale) || options.GuidanceScale < 0) throw new ArgumentException($"--guidance must be a non-negative number, not {options.GuidanceScale}.");
        if (!double.IsFinite(options.InversionGuidanceScale) || options.InversionGuidanceScale < 0)
            throw new ArgumentException($"--inversion-guidance must be a non-negative number, not {options.InversionGuidanceScale}.");
        var read = ReferenceVideo.ReadOptions(pipeline.Defaults, options.Frames, options.Height, options.Width);
        ReferenceVideo.CheckSize(pipeline, read.FrameCount!.Value, read.Height!.Value, read.Width!.Value);
    }

    /// <summary>The model name written into the records.</summary>
    public string ModelName => Options.Model ?? Customization.PipelineCustomizer.BaseModelName(_pipeline);

    /// <summary>
    /// Probes every input whose result <paramref name="store"/> does not hold yet, saving each when finished. Returns the
    /// results of this run (inputs already done are skipped with a progress report).
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled; finished videos are saved.</exception>
    public IReadOnlyList<ProbeVideoResult> Run(IReadOnlyList<ProbeInput> inputs, ProbeResultStore store, Action<ProbeProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        if (store.Grid != Options.Grid) throw new ArgumentException($"The store's grid ({store.Grid}) is not the run's ({Options.Grid}).", nameof(store));
        var results = new List<ProbeVideoResult>();
        for (int k = 0; k < inputs.Count; k++)
        {
            cancellation.ThrowIfCancellationRequested();
            var input = inputs[k];
            if (store.TryLoad(input.Job) is not null)
            {
                progress?.Invoke(new ProbeProgress(input.Video, k, inputs.Count, "skipped", 1, 1));
                continue;
            }
            using var clip = ReferenceVideo.Read(_pipeline, input.Path, Options.Frames, Options.Height, Options.Width);
            var videoFolder = Options.VideoFolder is null ? null
                : System.IO.Path.Combine(Options.VideoFolder, IO.SafeFileName.For(input.Video));
            int index = k;
            var result = Probe(input.Video, clip.Frames, input.Caption, input.EditedCaption,
                p => progress?.Invoke(p with { VideoIndex = index, VideoCount = inputs.Count }), cancellation, videoFolder);
            store.Save(result);
            results.Add(result);
        }
        return results;
    }

    /// <summary>
    /// Probes one video: (F, H, W, 3) uint8 <paramref name="frames"/> at a size the pipeline takes, its caption c and the
    /// edited caption c′. With <paramref name="videoFolder"/>, the reconstruction and every window's sample are written
    /// there as mp4.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public ProbeVideoResult Probe(string video, Tensor frames, string caption, string editedCaption, Action<ProbeProgress>? progress = null,
        CancellationToken cancellation = default, string? videoFolder = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(caption);
        ArgumentException.ThrowIfNullOrWhiteSpace(editedCaption);
        var clock = Stopwatch.StartNew();
        var sampler = new ProbeSampler(_pipeline.Sampler(), Options.Steps, Options.GuidanceScale);
        var cells = Options.Grid.Cells;
        var cost = sampler.Cost(cells, Options.Cached);
        int total = Options.Steps + cost.Steps + cost.Samples + 1, done = 0;
        void Report(string phase) => progress?.Invoke(new ProbeProgress(video, 0, 1, phase, done, total));

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool guided = Options.GuidanceScale > 1 || Options.InversionGuidanceScale > 1;
        var source = _pipeline.EncodePrompt(caption);
        var edited = _pipeline.EncodePrompt(editedCaption);
        var negative = guided ? _pipeline.EncodeNegative(Options.NegativePrompt, source) : null;

        // x₀ → x_T. Float32 latents keep the trajectory precise (the denoiser casts to its own dtype).
        var x0 = _pipeline.EncodeFrames(frames).to(ScalarType.Float32);
        Report("inversion");
        Tensor noisy;
        using (var trajectory = sampler.Sampler.Invert(x0, source, Options.Steps, new InversionOptions
               {
                   GuidanceScale = Options.InversionGuidanceScale,
                   Negative = negative,
                   Progress = _ =>
                   {
                       done++;
                       Report("inversion");
                       cancellation.ThrowIfCancellationRequested();
                   },
               }))
            noisy = trajectory.Final.clone();

        int height = (int)frames.shape[1], width = (int)frames.shape[2];
        var scorer = _scorer.ForEdit(caption, editedCaption);
        var flowOptions = scorer.FlowOptions(height, width);
        double baseScore = scorer.Score(frames, editedCaption);
        double? reconScore = null, reconFlow = null;
        GridFlow? reconGrid = null;
        var results = new List<ProbeCellResult>();
        try
        {
            var prompts = new SamplingPrompts(source, edited, negative);
            var ran = sampler.Run(noisy, prompts, cells, Options.Cached,
                reconstruction: latents =>
                {
                    using var reconFrames = Decode(latents);
                    reconScore = scorer.Score(reconFrames, editedCaption);
                    reconGrid = LucasKanade.Grid(reconFrames, flowOptions.GridSpacing, flowOptions.LucasKanade);
                    using (var originalGrid = LucasKanade.Grid(frames, flowOptions.GridSpacing, flowOptions.LucasKanade))
                        reconFlow = Finite(OpticalFlowSimilarity.Compare(originalGrid, reconGrid, flowOptions.StaticThreshold).Score);
                    Save(videoFolder, "reconstruction", reconFrames);
                    done++;
                    Report("scoring");
                },
                branch: sample =>
                {
                    using var sampleFrames = Decode(sample.Latents);
                    double score = scorer.Score(sampleFrames, editedCaption);
                    using var grid = LucasKanade.Grid(sampleFrames, flowOptions.GridSpacing, flowOptions.LucasKanade);
                    double flow = OpticalFlowSimilarity.Compare(reconGrid!, grid, flowOptions.StaticThreshold).Score;
                    foreach (var cell in sample.Cells)
                    {
                        results.Add(ProbeCellResult.From(cell, score, baseScore, flow));
                        Save(videoFolder, $"window_{cell.TauStart}_{cell.TauEnd}", sampleFrames);
                    }
                    done++;
                    Report("sampling");
                },
                stepDone: () =>
                {
                    done++;
                    Report("sampling");
                },
                cancellation);

            var result = new ProbeVideoResult
            {
                Video = video, Caption = caption, EditedCaption = editedCaption, Model = ModelName,
                Interval = Options.Grid.Interval, MaxTimestep = Options.Grid.MaxTimestep,
                BaseClipScore = baseScore, ReconstructionClipScore = reconScore, ReconstructionFlowSimilarity = reconFlow,
                Settings = Settings(frames, ran, clock.Elapsed),
                Cells = results.OrderBy(c => c.TauStart).ThenBy(c => c.TauEnd).ToArray(),
            };
            done = total;
            Report("done");
            return result.Validate(Options.Grid);
        }
        finally
        {
            reconGrid?.Dispose();
        }
    }

    private Dictionary<string, string> Settings(Tensor frames, ProbeSamplingCost cost, TimeSpan elapsed)
    {
        static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return new Dictionary<string, string>
        {
            ["scorer"] = _scorer.Name,
            ["steps"] = Options.Steps.ToString(CultureInfo.InvariantCulture),
            ["guidance"] = Number(Options.GuidanceScale),
            ["inversion_guidance"] = Number(Options.InversionGuidanceScale),
            ["negative_prompt"] = Options.NegativePrompt,
            ["frames"] = frames.shape[0].ToString(CultureInfo.InvariantCulture),
            ["height"] = frames.shape[1].ToString(CultureInfo.InvariantCulture),
            ["width"] = frames.shape[2].ToString(CultureInfo.InvariantCulture),
            ["device"] = _pipeline.Device.ToString(),
            ["dtype"] = _pipeline.DType.ToString(),
            ["cached"] = Options.Cached ? "true" : "false",
            ["denoising_steps"] = cost.Steps.ToString(CultureInfo.InvariantCulture),
            ["uncached_denoising_steps"] = cost.UncachedSteps.ToString(CultureInfo.InvariantCulture),
            ["seconds"] = elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture),
        };
    }

    // One clip's frames (F, H, W, 3) uint8; nothing else of the decode outlives the call.
    private Tensor Decode(Tensor latents)
    {
        using var scope = NewDisposeScope();
        return _pipeline.DecodeLatents(latents)[0].contiguous().MoveToOuterDisposeScope();
    }

    private void Save(string? folder, string name, Tensor frames)
    {
        if (folder is not null) VideoFile.Write(System.IO.Path.Combine(folder, name + ".mp4"), frames, Options.Fps);
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
