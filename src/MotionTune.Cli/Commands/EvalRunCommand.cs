using System.CommandLine;
using MotionTune.Evaluation;
using MotionTune.Metrics;
using MotionTune.ShapesWorld.Metrics;
using Spectre.Console;

namespace MotionTune.Cli.Commands;

/// <summary>
/// <c>motiontune eval run</c>: the evaluation of paper section 4.1 on a TGVE-format dataset: per video of the shard,
/// customize at τ, sample each edit prompt with K seeds, score, and append the records to the shard's JSONL file
/// (resumable). <c>eval merge</c>, <c>eval summarize</c> and <c>eval report</c> take it from there.
/// </summary>
public static class EvalRunCommand
{
    /// <summary>Builds the command (a subcommand of <c>eval</c>).</summary>
    public static Command Create()
    {
        var pipelineFolder = CommandSupport.PipelineArgument();
        var dataset = new Option<string?>("--dataset") { Description = "A TGVE-format CSV (LOVEU-TGVE-2023 columns)." };
        var videos = new Option<string?>("--videos") { Description = "The dataset's video folder." };
        var tasks = new Option<string?>("--tasks") { Description = "A ShapesWorld task set folder: the dataset when --dataset is not given, and the tasks --scorer shapesworld scores against." };
        var output = new Option<string>("--out") { Description = "Output folder: the shard's JSONL, samples/, customizations/.", Required = true };
        var seeds = new Option<int>("--seeds") { Description = "Samples per prompt (seeds 0 .. K-1).", DefaultValueFactory = _ => 1 };
        var edits = new Option<string>("--edits") { Description = "Edit prompts to sample, comma-separated.", DefaultValueFactory = _ => string.Join(",", EditKinds.All) };
        var scorer = new Option<string>("--scorer") { Description = "clip (the paper's metrics; needs --clip) or shapesworld (exact ShapesWorld metrics; needs --tasks; --clip adds the CLIP ones).", DefaultValueFactory = _ => "clip" }
            .AcceptOnlyFromAmong("clip", "shapesworld");
        var clip = new Option<string?>("--clip") { Description = "CLIP ViT-L/14 folder (text alignment, temporal consistency)." };
        var pickScore = new Option<string?>("--pickscore") { Description = "PickScore folder (yuvalkirstain/PickScore_v1)." };
        var pickScoreProcessor = new Option<string?>("--pickscore-processor") { Description = "PickScore's tokenizer and preprocessor folder, if not in --pickscore." };
        var shard = new Option<string?>("--shard") { Description = "i/n: this job's videos (dataset index k with k mod n = i)." };
        var skipMissing = new Option<bool>("--skip-missing") { Description = "Leave out videos without a file instead of failing." };
        var skipMalformed = new Option<bool>("--skip-malformed") { Description = "Leave out malformed CSV rows (with a warning) instead of failing." };
        var limit = new Option<int?>("--limit") { Description = "At most N videos (the shard's first)." };
        var sampleSteps = new Option<int?>("--sample-steps") { Description = "DDIM steps per sample (default: the pipeline's)." };
        var guidance = new Option<double?>("--guidance") { Description = "Guidance scale of the samples (default: the pipeline's)." };
        var negative = new Option<string>("--negative") { Description = "Negative prompt.", DefaultValueFactory = _ => "" };
        var eta = new Option<double>("--eta") { Description = "DDIM eta of the samples.", DefaultValueFactory = _ => 0 };
        var sampleFormat = new Option<string>("--sample-format") { Description = "mp4, gif, or png (a folder of frames).", DefaultValueFactory = _ => "mp4" }
            .AcceptOnlyFromAmong("mp4", "gif", "png");
        var (frames, height, width) = (CommandSupport.FramesOption(), CommandSupport.HeightOption(), CommandSupport.WidthOption());
        var modelName = new Option<string?>("--model-name") { Description = "The model's name in the records (default: the pipeline folder's name)." };
        var variant = new Option<string>("--variant") { Description = "The variant's name in the records (e.g. 'r = 8').", DefaultValueFactory = _ => "" };
        var (device, dtype) = (CommandSupport.DeviceOption(), CommandSupport.DTypeOption());
        var flags = new CustomizationFlags(perRun: false);

        var command = new Command("run", "Customize to each video at tau, sample every edit prompt with K seeds, score, and append to the shard's JSONL (resumable).")
        {
            pipelineFolder, dataset, videos, tasks, output, seeds, edits, scorer, clip, pickScore, pickScoreProcessor, shard, skipMissing, skipMalformed, limit,
            sampleSteps, guidance, negative, eta, sampleFormat, frames, height, width, modelName, variant, device, dtype,
        };
        flags.AddTo(command);
        flags.Tau.Description = "Customize and apply at t >= tau (default: the paper's for the architecture; T = 1000: the untuned base model).";
        command.SetAction(parse => CommandSupport.Run(parse, cancellation =>
        {
            var folder = parse.GetValue(pipelineFolder)!;
            var spec = CommandSupport.Shard(parse.GetValue(shard));
            var scorerName = parse.GetValue(scorer)!;
            var clipFolder = parse.GetValue(clip);
            var taskFolder = parse.GetValue(tasks);
            if (scorerName == "clip" && clipFolder is null) throw new ArgumentException("--scorer clip needs --clip FOLDER (a CLIP ViT-L/14 CLIPModel folder), or use --scorer shapesworld --tasks DIR.");
            if (scorerName == "shapesworld" && taskFolder is null) throw new ArgumentException("--scorer shapesworld needs --tasks DIR (the task set the dataset comes from).");
            if (parse.GetValue(pickScore) is not null && clipFolder is null) throw new ArgumentException("--pickscore needs --clip as well.");
            foreach (var (flag, path) in new[] { ("--clip", clipFolder), ("--pickscore", parse.GetValue(pickScore)), ("--pickscore-processor", parse.GetValue(pickScoreProcessor)) })
                if (path is not null && !Directory.Exists(path)) throw new DirectoryNotFoundException($"{flag}: folder not found: {path}");
            var (architecture, timesteps) = CommandSupport.Peek(folder);
            var customization = flags.Read(parse, architecture);
            var options = new EvaluationRunOptions
            {
                OutputFolder = parse.GetValue(output)!, Tau = customization.Tau, Seeds = parse.GetValue(seeds),
                Kinds = parse.GetValue(edits)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Shard = spec, Limit = parse.GetValue(limit), Model = parse.GetValue(modelName), Variant = parse.GetValue(variant)!,
                Customization = customization, Frames = parse.GetValue(frames), Height = parse.GetValue(height), Width = parse.GetValue(width),
                SampleSteps = parse.GetValue(sampleSteps), GuidanceScale = parse.GetValue(guidance), NegativePrompt = parse.GetValue(negative)!,
                Eta = parse.GetValue(eta), SampleFormat = parse.GetValue(sampleFormat)!,
            };
            options.Validate(timesteps);
            var (csv, videoFolder) = ProbeRunCommand.DatasetPaths(parse.GetValue(dataset), parse.GetValue(videos), taskFolder);
            var data = TgveDataset.Load(csv, videoFolder, new TgveLoadOptions { SkipMissingVideos = parse.GetValue(skipMissing), SkipMalformedRows = parse.GetValue(skipMalformed) });
            var shapes = scorerName == "shapesworld" ? ShapesTaskScorer.Load(taskFolder!) : null;
            if (shapes is not null)
                foreach (var entry in data.Entries) shapes.Task(entry.Video); // every video must be a task

            using var pipeline = CommandSupport.LoadPipeline(folder, parse.GetValue(device)!, parse.GetValue(dtype));
            using var metrics = clipFolder is null ? null : new VideoMetrics(new VideoMetricsOptions
            {
                Clip = new ClipMetricModelOptions { Folder = clipFolder, Device = pipeline.Device },
                PickScore = parse.GetValue(pickScore) is { } pick
                    ? new ClipMetricModelOptions { Folder = pick, ProcessorFolder = parse.GetValue(pickScoreProcessor), Device = pipeline.Device }
                    : null,
            });
            var runner = new EvaluationRunner(pipeline, options, metrics, shapes);
            int selected = spec.Select(data.Entries).Count;
            AnsiConsole.MarkupLine($"shard {spec}: {(options.Limit is int n ? Math.Min(n, selected) : selected)} of {data.Entries.Count} video(s); " +
                $"{(options.Tau >= timesteps ? "untuned base model" : $"tau {options.Tau}")}; {options.Kinds.Count} prompt(s) x {options.Seeds} seed(s); results in {Markup.Escape(runner.JsonlPath)}");

            var result = CommandSupport.WithProgress("eval", line => runner.Run(data, p =>
            {
                var what = p.Training is { } t ? $"customizing, {CommandSupport.Describe(t)}" : $"{p.Phase} {p.Done}/{p.Total}";
                line.Report($"video {p.VideoIndex + 1}/{p.VideoCount} '{p.Video}': {what}", p.Training?.Step ?? p.Done, p.Training?.Steps ?? p.Total,
                    force: p.Phase is "done" or "skipped");
            }, cancellation));
            AnsiConsole.MarkupLine($"{result.Written} sample(s) written, {result.Skipped} already there, in [bold]{Markup.Escape(result.JsonlPath)}[/]");
            AnsiConsole.MarkupLine("next: motiontune eval merge <shards> --out merged.jsonl, then eval summarize / eval report");
            return 0;
        }));
        return command;
    }
}
