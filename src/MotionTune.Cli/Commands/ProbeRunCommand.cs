using System.CommandLine;
using System.Globalization;
using MotionTune.Evaluation;
using MotionTune.Metrics;
using MotionTune.Probe;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using Spectre.Console;

namespace MotionTune.Cli.Commands;

/// <summary>
/// <c>motiontune probe run</c>: the timestep probe (paper section 3.2) of a pipeline on one video or a TGVE-format
/// dataset: per video, DDIM inversion with the caption c and resampling of every (τ_start, τ_end) window with the edit
/// c′ inside it; results per video in <c>OUT/results</c> (resumable), then the report in <c>OUT/report</c>.
/// </summary>
public static class ProbeRunCommand
{
    /// <summary>Builds the command (a subcommand of <c>probe</c>).</summary>
    public static Command Create()
    {
        var pipelineFolder = CommandSupport.PipelineArgument();
        var video = new Option<string?>("--video") { Description = "One video to probe (with --caption and --edit)." };
        var caption = new Option<string?>("--caption") { Description = "The video's caption c (with --video)." };
        var edit = new Option<string?>("--edit") { Description = "The edited caption c' (with --video)." };
        var dataset = new Option<string?>("--dataset") { Description = "A TGVE-format CSV (with --videos)." };
        var videos = new Option<string?>("--videos") { Description = "The dataset's video folder." };
        var editKind = new Option<string>("--edit-kind") { Description = "Which of the dataset's edit prompts is c' (the paper's: object).", DefaultValueFactory = _ => EditKinds.Object }
            .AcceptOnlyFromAmong([.. EditKinds.All]);
        var tasks = new Option<string?>("--tasks") { Description = "A ShapesWorld task set folder: the dataset when --dataset is not given." };
        var output = new Option<string>("--out") { Description = "Output folder: results/ (one JSON per video) and report/.", Required = true };
        var interval = new Option<int>("--interval") { Description = "Grid interval of tau_start and tau_end.", DefaultValueFactory = _ => 100 };
        var steps = new Option<int>("--steps") { Description = "DDIM steps of inversion and resampling.", DefaultValueFactory = _ => 50 };
        var guidance = new Option<double>("--guidance") { Description = "Guidance scale of the resampling (1: none).", DefaultValueFactory = _ => 1 };
        var inversionGuidance = new Option<double>("--inversion-guidance") { Description = "Guidance scale of the inversion (1 is what makes DDIM invert).", DefaultValueFactory = _ => 1 };
        var negative = new Option<string>("--negative") { Description = "Negative prompt of guided steps.", DefaultValueFactory = _ => "" };
        var scorer = new Option<string>("--scorer") { Description = "Appearance score: clip (CLIP text alignment, needs --clip) or shapesworld (exact, for ShapesWorld models).", DefaultValueFactory = _ => "clip" }
            .AcceptOnlyFromAmong("clip", "shapesworld");
        var clip = new Option<string?>("--clip") { Description = "CLIP ViT-L/14 folder (transformers CLIPModel: openai/clip-vit-large-patch14)." };
        var shard = new Option<string?>("--shard") { Description = "i/n: probe the videos with dataset index k, k mod n = i." };
        var limit = new Option<int?>("--limit") { Description = "At most N videos (the shard's first)." };
        var skipMissing = new Option<bool>("--skip-missing") { Description = "Leave out dataset videos without a file instead of failing." };
        var skipMalformed = new Option<bool>("--skip-malformed") { Description = "Leave out malformed CSV rows (with a warning) instead of failing." };
        var (frames, height, width) = (CommandSupport.FramesOption(), CommandSupport.HeightOption(), CommandSupport.WidthOption());
        var noCache = new Option<bool>("--no-cache") { Description = "Sample every window from x_T instead of branching from shared steps (for checking; about 2.4x the work)." };
        var saveVideos = new Option<bool>("--save-videos") { Description = "Write every video's reconstruction and window samples as mp4 under OUT/videos." };
        var modelName = new Option<string?>("--model-name") { Description = "The model's name in the results (default: the pipeline folder's name)." };
        var (device, dtype) = (CommandSupport.DeviceOption(), CommandSupport.DTypeOption());

        var command = new Command("run", "Probe where a model decides motion versus appearance: invert, resample every (tau_start, tau_end) window with the edit, score.")
        {
            pipelineFolder, video, caption, edit, dataset, videos, editKind, tasks, output, interval, steps, guidance, inversionGuidance, negative, scorer, clip,
            shard, limit, skipMissing, skipMalformed, frames, height, width, noCache, saveVideos, modelName, device, dtype,
        };
        command.SetAction(parse => CommandSupport.Run(parse, cancellation =>
        {
            var folder = parse.GetValue(pipelineFolder)!;
            var inputs = Inputs(parse, video, caption, edit, dataset, videos, editKind, tasks, shard, limit, skipMissing, skipMalformed);
            var (_, timesteps) = CommandSupport.Peek(folder);
            var grid = new ProbeGrid(parse.GetValue(interval), timesteps);
            var scorerName = parse.GetValue(scorer)!;
            var clipFolder = parse.GetValue(clip);
            if (scorerName == "clip" && clipFolder is null) throw new ArgumentException("--scorer clip needs --clip FOLDER (a CLIP ViT-L/14 CLIPModel folder), or use --scorer shapesworld.");
            if (scorerName == "shapesworld" && clipFolder is not null) throw new ArgumentException("--clip is only used with --scorer clip.");
            if (clipFolder is not null && !Directory.Exists(clipFolder)) throw new DirectoryNotFoundException($"--clip: folder not found: {clipFolder}");
            var outFolder = parse.GetValue(output)!;
            var store = new ProbeResultStore(Path.Combine(outFolder, "results"), grid);

            using var pipeline = CommandSupport.LoadPipeline(folder, parse.GetValue(device)!, parse.GetValue(dtype));
            using var clipScorer = clipFolder is null ? null
                : new ClipAppearanceScorer(ClipMetricModel.Load(new ClipMetricModelOptions { Folder = clipFolder, Device = pipeline.Device }));
            IAppearanceScorer appearance = clipScorer is not null ? clipScorer : new ShapesAppearanceScorer();
            var runner = new TimestepProbeRunner(pipeline, appearance, new ProbeRunOptions
            {
                Grid = grid, Steps = parse.GetValue(steps), GuidanceScale = parse.GetValue(guidance), InversionGuidanceScale = parse.GetValue(inversionGuidance),
                NegativePrompt = parse.GetValue(negative)!, Cached = !parse.GetValue(noCache),
                Frames = parse.GetValue(frames), Height = parse.GetValue(height), Width = parse.GetValue(width),
                Model = parse.GetValue(modelName), VideoFolder = parse.GetValue(saveVideos) ? Path.Combine(outFolder, "videos") : null,
            });
            int pending = store.Pending(inputs.Select(i => i.Job)).Count;
            AnsiConsole.MarkupLine($"{inputs.Count} video(s), {pending} to probe; grid {Markup.Escape(grid.ToString())}; {parse.GetValue(steps)} steps; scorer {appearance.Name}");

            var results = CommandSupport.WithProgress("probe", line => runner.Run(inputs, store, p =>
                line.Report($"video {p.VideoIndex + 1}/{p.VideoCount} '{p.Video}': {p.Phase} {p.Done}/{p.Total}", p.Done, p.Total,
                    force: p.Phase is "done" or "skipped"), cancellation));
            foreach (var r in results)
                AnsiConsole.MarkupLine($"{Markup.Escape(r.Video)}: base score {r.BaseClipScore.ToString("F3", CultureInfo.InvariantCulture)}, " +
                    $"{r.Settings.GetValueOrDefault("denoising_steps")} of {r.Settings.GetValueOrDefault("uncached_denoising_steps")} denoising steps, {r.Settings.GetValueOrDefault("seconds")} s");

            var (loaded, skipped) = store.LoadAll();
            foreach (var reason in skipped) AnsiConsole.MarkupLine($"[yellow]skipped:[/] {Markup.Escape(reason)}");
            if (loaded.Count == 0) throw new InvalidDataException($"no probe results in {store.Folder}.");
            var files = Reports.ProbeReport.Write(Path.Combine(outFolder, "report"), loaded);
            var tau = files.Summary.Recommendation.Tau?.ToString(CultureInfo.InvariantCulture) ?? "none";
            AnsiConsole.MarkupLine($"{loaded.Count} video(s) in the report; recommended τ = [bold]{tau}[/]");
            if (files.Summary.Recommendation.Note is { } note) AnsiConsole.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
            AnsiConsole.MarkupLine($"report: {Markup.Escape(Path.GetDirectoryName(files.SummaryJson)!)}");
            return 0;
        }));
        return command;
    }

    private static IReadOnlyList<ProbeInput> Inputs(ParseResult parse, Option<string?> video, Option<string?> caption, Option<string?> edit,
        Option<string?> dataset, Option<string?> videos, Option<string> editKind, Option<string?> tasks, Option<string?> shard, Option<int?> limit,
        Option<bool> skipMissing, Option<bool> skipMalformed)
    {
        var spec = CommandSupport.Shard(parse.GetValue(shard));
        if (parse.GetValue(limit) is < 1) throw new ArgumentException($"--limit must be positive, not {parse.GetValue(limit)}.");
        if (parse.GetValue(video) is { } path)
        {
            if (parse.GetValue(dataset) is not null || parse.GetValue(tasks) is not null)
                throw new ArgumentException("give --video (one video) or --dataset / --tasks (a dataset), not both.");
            var c = parse.GetValue(caption);
            var e = parse.GetValue(edit);
            if (string.IsNullOrWhiteSpace(c) || string.IsNullOrWhiteSpace(e)) throw new ArgumentException("--video needs --caption (c) and --edit (c').");
            CommandSupport.RequireVideo(path, "--video");
            var name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path));
            return [new ProbeInput(name, path, c, e)];
        }
        if (parse.GetValue(caption) is not null || parse.GetValue(edit) is not null)
            throw new ArgumentException("--caption and --edit go with --video; a dataset's come from its CSV.");
        var (csv, folder) = DatasetPaths(parse.GetValue(dataset), parse.GetValue(videos), parse.GetValue(tasks));
        var loaded = TgveDataset.Load(csv, folder, new TgveLoadOptions { SkipMissingVideos = parse.GetValue(skipMissing), SkipMalformedRows = parse.GetValue(skipMalformed) });
        var entries = spec.Select(loaded.Entries);
        if (parse.GetValue(limit) is int n) entries = entries.Take(n).ToArray();
        var kind = parse.GetValue(editKind)!;
        return entries.Select(entry => new ProbeInput(entry.Video, entry.VideoPath!, entry.Caption, entry.Prompts[kind])).ToArray();
    }

    /// <summary>The dataset's CSV and video folder: --dataset and --videos, or a ShapesWorld task set's.</summary>
    internal static (string Csv, string Videos) DatasetPaths(string? dataset, string? videos, string? tasks)
    {
        if (dataset is not null)
            return (dataset, videos ?? throw new ArgumentException("--dataset needs --videos (the folder of the dataset's videos)."));
        if (tasks is not null)
            return (Path.Combine(tasks, TaskSet.CsvName), videos ?? Path.Combine(tasks, TaskSet.FramesFolder));
        throw new ArgumentException("give a video (--video, --caption, --edit) or a dataset (--dataset CSV --videos DIR, or --tasks DIR).");
    }
}
