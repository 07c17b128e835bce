using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MotionTune.Evaluation;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using MotionTune.Video;
using Spectre.Console;
using TorchSharp;

namespace MotionTune.Cli.Commands;

/// <summary><c>motiontune shapes</c>: the ShapesWorld benchmark: task sets, training data, and reading and scoring clips.</summary>
public static partial class ShapesCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var command = new Command("shapes", "ShapesWorld: synthetic shape videos with exactly measurable appearance and motion.");
        command.Subcommands.Add(Tasks());
        command.Subcommands.Add(Dataset());
        command.Subcommands.Add(Read());
        command.Subcommands.Add(Score());
        command.Subcommands.Add(Bench());
        command.Subcommands.Add(Train());
        command.Subcommands.Add(TrainVae());
        command.Subcommands.Add(EvaluateBase());
        command.Subcommands.Add(BenchBase());
        command.Subcommands.Add(Sweep());
        return command;
    }

    private static Option<int> SizeOption() => new("--size") { Description = "Frame height and width in pixels.", DefaultValueFactory = _ => 32 };

    private static Option<int> FramesOption() => new("--frames") { Description = "Frames per clip.", DefaultValueFactory = _ => 16 };

    private static Option<int> SeedOption() => new("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0 };

    private static Option<bool> OverwriteOption() => new("--overwrite") { Description = "Replace the output folder if it exists." };

    private static Option<string> OutOption() => new("--out") { Description = "Output folder.", Required = true };

    private static RenderSettings Settings(int size) =>
        size is >= 4 and <= 1024 ? new RenderSettings { Height = size, Width = size } : throw new ArgumentException($"--size must be 4 to 1024, got {size}.");

    private static Command Tasks()
    {
        var (size, frames, seed, overwrite, output) = (SizeOption(), FramesOption(), SeedOption(), OverwriteOption(), OutOption());
        var motions = new Option<string?>("--motions") { Description = "Folder of custom motion JSON files (default: the shipped examples)." };
        var command = new Command("tasks", "Write a customization task set (TGVE CSV, reference frames, motion files), one task per custom motion.")
            { output, size, frames, seed, motions, overwrite };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var folder = parse.GetValue(motions);
            var tasks = TaskSet.Create(folder is null ? CustomMotions.BuiltIn() : CustomMotions.LoadFolder(folder), parse.GetValue(seed));
            var outFolder = parse.GetValue(output)!;
            TaskSet.Write(outFolder, tasks, Settings(parse.GetValue(size)), parse.GetValue(frames), parse.GetValue(overwrite));
            var table = new Table().AddColumn("task").AddColumn("caption").AddColumn("multiple changes");
            foreach (var t in tasks) table.AddRow(t.Name, t.Caption, t.Prompt(EditKinds.Multiple));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"{tasks.Count} tasks written to [bold]{Markup.Escape(Path.GetFullPath(outFolder))}[/]");
            return 0;
        }));
        return command;
    }

    private static Command Dataset()
    {
        var (size, frames, seed, overwrite, output) = (SizeOption(), FramesOption(), SeedOption(), OverwriteOption(), OutOption());
        var count = new Option<int>("--count") { Description = "Clips to write.", DefaultValueFactory = _ => 256 };
        var split = new Option<string>("--split") { Description = "train, or held-out (the appearance triples never in training).", DefaultValueFactory = _ => "train" };
        var command = new Command("dataset", "Write base-model training clips (library motions, captions naming them) as PNG folders with captions.csv.")
            { output, count, split, size, frames, seed, overwrite };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var which = parse.GetValue(split) switch
            {
                "train" => DatasetSplit.Train,
                "held-out" => DatasetSplit.HeldOut,
                var other => throw new ArgumentException($"--split: '{other}' is not train or held-out."),
            };
            int n = parse.GetValue(count);
            if (n < 1) throw new ArgumentException($"--count must be positive, got {n}.");
            var outFolder = parse.GetValue(output)!;
            new ShapesDataset(parse.GetValue(seed), parse.GetValue(frames)).Write(outFolder, n, Settings(parse.GetValue(size)), which, parse.GetValue(overwrite));
            AnsiConsole.MarkupLine($"{n} {parse.GetValue(split)} clips written to [bold]{Markup.Escape(Path.GetFullPath(outFolder))}[/]");
            return 0;
        }));
        return command;
    }

    private static Command Read()
    {
        var frames = new Argument<string>("video") { Description = "A video file or a folder of frames." };
        var command = new Command("read", "Read a clip's object colour, shape, centroid and background per frame, and its motion class.") { frames };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            using var clip = VideoFile.Read(parse.GetValue(frames)!);
            var reading = FrameReader.Read(clip.Frames);
            var table = new Table().AddColumn("frame").AddColumn("colour").AddColumn("shape").AddColumn("match").AddColumn("background").AddColumn("x").AddColumn("y");
            for (int i = 0; i < reading.Frames.Count; i++)
            {
                var f = reading.Frames[i];
                table.AddRow(i.ToString(CultureInfo.InvariantCulture), f.Colour ?? "-", f.Shape ?? "-", Number(f.ShapeMatch), f.Background ?? "-", Number(f.X), Number(f.Y));
            }
            AnsiConsole.Write(table);
            var motion = MotionClassifier.Classify(reading.Path);
            AnsiConsole.MarkupLine($"nearest library motion: [bold]{motion.Motion ?? "none"}[/] (distance {Number(motion.Distance)}, margin {Number(motion.Margin)})");
            return 0;
        }));
        return command;
    }

    private static Command Score()
    {
        var tasks = new Option<string>("--tasks") { Description = "A task set folder (motiontune shapes tasks).", Required = true };
        var task = new Option<string>("--task") { Description = "The task's name.", Required = true };
        var edit = new Option<string>("--edit") { Description = "style, object, background or multiple: which prompt the clip was made for.", Required = true };
        var video = new Argument<string>("video") { Description = "The generated clip: a video file or a folder of frames." };
        var command = new Command("score", "Score a generated clip against its task: appearance alignment, leakage, motion fidelity.") { video, tasks, task, edit };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var folder = parse.GetValue(tasks)!;
            var name = parse.GetValue(task)!;
            var found = TaskSet.Read(folder).FirstOrDefault(t => t.Name == name)
                ?? throw new ArgumentException($"--task: no task '{name}' in {folder}.");
            var kind = parse.GetValue(edit)!;
            if (!EditKinds.All.Contains(kind)) throw new ArgumentException($"--edit: '{kind}' is not one of {string.Join(", ", EditKinds.All)}.");
            using var reference = VideoFile.Read(Path.Combine(folder, TaskSet.FramesFolder, name));
            using var generated = VideoFile.Read(parse.GetValue(video)!);
            if (!generated.Frames.shape.SequenceEqual(reference.Frames.shape))
                throw new ArgumentException($"the clip is [{string.Join(", ", generated.Frames.shape)}] but the reference is [{string.Join(", ", reference.Frames.shape)}]; generate with the task set's frame count and size.");
            var score = EditScorer.Score(generated.Frames, found.Prompt(kind), found.Reference, FrameReader.Read(reference.Frames).Path, reference.Frames);
            var table = new Table().AddColumn("metric").AddColumn("value");
            table.AddRow("prompt", Markup.Escape(found.Prompt(kind)));
            table.AddRow("alignment colour / shape / background / all", $"{Number(score.Alignment.Colour)} / {Number(score.Alignment.Shape)} / {Number(score.Alignment.Background)} / {Number(score.Alignment.All)}");
            table.AddRow("leakage (mean over changed attributes)", Number(score.Leakage.Mean));
            table.AddRow("displacement cosine", Number(score.Fidelity.DisplacementCosine));
            table.AddRow("trajectory distance", Number(score.Fidelity.TrajectoryDistance));
            table.AddRow("optical-flow similarity", Number(score.FlowSimilarity ?? double.NaN));
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command Bench()
    {
        var (size, frames) = (SizeOption(), FramesOption());
        var clips = new Option<int>("--clips") { Description = "Clips to render and read.", DefaultValueFactory = _ => 32 };
        var device = new Option<string>("--device") { Description = "Where to render: cpu, cuda, cuda:N or auto (reading is on the CPU).", DefaultValueFactory = _ => "cpu" };
        var command = new Command("bench", "Time rendering and reading ShapesWorld clips (milliseconds per clip).") { size, frames, clips, device };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device));
            int n = parse.GetValue(clips);
            if (n < 1) throw new ArgumentException($"--clips must be positive, got {n}.");
            var dataset = new ShapesDataset(Frames: parse.GetValue(frames));
            var settings = Settings(parse.GetValue(size));
            var items = dataset.Items(0, n);
            dataset.Render(items.Take(1).ToArray(), settings, dev).Frames.Dispose();      // warm-up
            var watch = Stopwatch.StartNew();
            using var rendered = dataset.Render(items, settings, dev).Frames.cpu();
            double render = watch.Elapsed.TotalMilliseconds / n;
            double read = 0;
            for (int pass = 0; pass < 2; pass++) // the first pass builds the shape templates and motion examples
            {
                watch.Restart();
                for (int i = 0; i < n; i++)
                {
                    using var clip = rendered[i];
                    MotionClassifier.Classify(FrameReader.Read(clip).Path);
                }
                read = watch.Elapsed.TotalMilliseconds / n;
            }
            AnsiConsole.MarkupLine($"{n} clips of {parse.GetValue(frames)} x {settings.Height} x {settings.Width}: render on {dev} [bold]{render:F1} ms[/] per clip, read and classify on cpu [bold]{read:F1} ms[/] per clip ({torch.get_num_threads()} CPU threads)");
            return 0;
        }));
        return command;
    }

    private static Command Sweep()
    {
        var model = new Argument<string>("model") { Description = "A ShapesWorld pipeline folder (e.g. models/shapesworld-cogvideox)." };
        var output = new Option<string>("--out") { Description = "Output folder (results.jsonl; a rerun skips finished samples).", Required = true };
        var taus = new Option<string>("--taus") { Description = "Comma-separated tau values (1000: base model, 0: all timesteps).", DefaultValueFactory = _ => "1000,900,800,700,600,500,0" };
        var ablationTau = new Option<int>("--ablation-tau") { Description = "Tau of the targets and rank ablations (-1: none).", DefaultValueFactory = _ => 700 };
        var ablations = new Option<string>("--ablations") { Description = "Ablations at --ablation-tau, comma-separated: r4 (the reference), vo, r8, r16, full.", DefaultValueFactory = _ => "r4,vo,r8,r16,full" };
        var tasks = new Option<int>("--tasks") { Description = "Tasks (one per shipped custom motion).", DefaultValueFactory = _ => 8 };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per edit prompt.", DefaultValueFactory = _ => 2 };
        var steps = new Option<int>("--steps") { Description = "Customization steps.", DefaultValueFactory = _ => 150 };
        var lr = new Option<double>("--lr") { Description = "LoRA learning rate.", DefaultValueFactory = _ => 1e-3 };
        var fullLr = new Option<double>("--full-lr") { Description = "Learning rate of the full-parameter variant.", DefaultValueFactory = _ => 1e-4 };
        var sampleSteps = new Option<int?>("--sample-steps") { Description = "Sampling steps (default: the pipeline's)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var command = new Command("sweep",
            "The paper's tau sweep and target/rank ablations on a ShapesWorld model, in memory (no video files): exact metrics to a " +
            "JSONL for 'motiontune eval summarize'.")
        { model, output, taus, ablationTau, ablations, tasks, seeds, steps, lr, fullLr, sampleSteps, device };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var tauList = parse.GetValue(taus)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v is >= 0 and <= 1000
                    ? v : throw new ArgumentException($"--taus: '{t}' is not a timestep in [0, 1000].")).ToList();
            int ablation = parse.GetValue(ablationTau);
            var options = new ShapesSweepOptions
            {
                Model = parse.GetValue(model)!, Output = parse.GetValue(output)!, Taus = tauList,
                AblationTau = ablation < 0 ? null : ablation, Tasks = parse.GetValue(tasks), Seeds = parse.GetValue(seeds),
                Ablations = parse.GetValue(ablations)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Steps = parse.GetValue(steps), LearningRate = parse.GetValue(lr), FullLearningRate = parse.GetValue(fullLr),
                SampleSteps = parse.GetValue(sampleSteps), Device = TorchRuntime.ParseDevice(parse.GetValue(device)),
            };
            var clock = Stopwatch.StartNew();
            var jsonl = ShapesSweep.Run(options, line => AnsiConsole.MarkupLine(Markup.Escape(line)));
            AnsiConsole.MarkupLine($"wrote {Markup.Escape(jsonl)} in {clock.Elapsed.TotalMinutes:F1} min; tables: motiontune eval summarize {Markup.Escape(jsonl)} --out DIR");
            return 0;
        }));
        return command;
    }

    /// <summary>Runs an action; bad input (a missing file, a malformed motion or CSV, a bad option) is one red line and exit code 1.</summary>
    private static int Guarded(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidDataException or TgveDatasetException or VideoFormatException)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }
    }

    private static string Number(double value) => double.IsNaN(value) ? "-" : value.ToString("0.###", CultureInfo.InvariantCulture);
}
