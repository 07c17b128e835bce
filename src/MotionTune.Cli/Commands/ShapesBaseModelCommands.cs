using System.CommandLine;
using System.Globalization;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using Spectre.Console;
using TorchSharp;

namespace MotionTune.Cli.Commands;

/// <summary><c>motiontune shapes train | evaluate-base | bench-base</c>: the bundled ShapesWorld base models.</summary>
public static partial class ShapesCommand
{
    private static Option<string> ArchitectureOption() => new("--arch")
    {
        Description = "modelscope, latte or cogvideox.", Required = true,
    };

    private static Command Train()
    {
        var (arch, output, overwrite) = (ArchitectureOption(), OutOption(), OverwriteOption());
        var minutes = new Option<double?>("--minutes") { Description = "Training time budget in minutes (default 8; setup and evaluation not counted)." };
        var steps = new Option<int?>("--steps") { Description = "Train this many steps instead of for a time budget." };
        var batch = new Option<int>("--batch") { Description = "Clips per step.", DefaultValueFactory = _ => 64 };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 5e-4 for modelscope, 3e-4 for latte and cogvideox)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var seed = SeedOption();
        var evalEvery = new Option<int>("--eval-every") { Description = "Steps between quick held-out evaluations (0: only at the end).", DefaultValueFactory = _ => 0 };
        var evalSamples = new Option<int>("--eval-samples") { Description = "Held-out captions per final evaluation.", DefaultValueFactory = _ => 128 };
        var evalSteps = new Option<int?>("--eval-steps") { Description = "Sampling steps of the evaluations (default: the model's 25)." };
        var precision = new Option<string>("--precision") { Description = "bf16, fp32 or auto (bf16 on a GPU).", DefaultValueFactory = _ => "auto" };
        var ema = new Option<double>("--ema") { Description = "EMA decay (0: none).", DefaultValueFactory = _ => 0.999 };
        var pool = new Option<int?>("--pool") { Description = "Clips in the training pool (default 16384 on a GPU, 256 on the CPU)." };
        var guidance = new Option<string>("--guidance") { Description = "Guidance scales to choose the default from, comma-separated.", DefaultValueFactory = _ => "3,5,7.5" };
        var logEvery = new Option<int>("--log-every") { Description = "Steps between progress lines.", DefaultValueFactory = _ => 100 };
        var warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps of the learning rate.", DefaultValueFactory = _ => 250 };
        var initFrom = new Option<string?>("--init-from") { Description = "Continue from this base-model folder of the same architecture (its weights; fresh optimizer and warm-up)." };
        var noiseOffset = new Option<double>("--noise-offset") { Description = "Offset noise: std of a per-clip, per-channel constant added to the training noise (0: none).", DefaultValueFactory = _ => 0 };
        var weighting = new Option<string>("--loss-weighting") { Description = "uniform (plain MSE to the model's target) or epsilon (v errors weighted by alpha-bar: the epsilon loss).", DefaultValueFactory = _ => "uniform" };
        var set = new Option<string[]>("--set") { Description = "Replace a denoiser config key, KEY=VALUE as in config.json (e.g. patch_size=1); repeatable.", AllowMultipleArgumentsPerToken = false };
        var vae = new Option<string?>("--vae") { Description = "Train on the latents of this VAE folder (motiontune shapes train-vae; latte and cogvideox); the model folder carries it." };
        var zeroSnr = new Option<bool>("--zero-terminal-snr") { Description = "Rescale the model's betas to zero terminal SNR, with v-prediction and trailing spacing." };
        var command = new Command("train", "Train a bundled ShapesWorld base model (from scratch, or continuing a folder) and write it as a diffusers-layout folder with a model card.")
            { arch, output, minutes, steps, batch, lr, device, seed, evalEvery, evalSamples, evalSteps, precision, ema, pool, guidance, logEvery, warmup, initFrom, noiseOffset, weighting, set, vae, zeroSnr, overwrite };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var scales = parse.GetValue(guidance)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x
                    : throw new ArgumentException($"--guidance: '{v}' is not a number.")).ToArray();
            var options = new BaseTrainingOptions
            {
                Architecture = BaseModels.Parse(parse.GetValue(arch)!),
                Output = parse.GetValue(output)!,
                Minutes = parse.GetValue(minutes),
                Steps = parse.GetValue(steps),
                Batch = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                Device = TorchRuntime.ParseDevice(parse.GetValue(device)),
                Seed = parse.GetValue(seed),
                EvalEvery = parse.GetValue(evalEvery),
                EvalSamples = parse.GetValue(evalSamples),
                EvalSteps = parse.GetValue(evalSteps),
                Precision = parse.GetValue(precision)!,
                EmaDecay = parse.GetValue(ema),
                PoolClips = parse.GetValue(pool),
                GuidanceCandidates = scales,
                LogEvery = parse.GetValue(logEvery),
                WarmupSteps = parse.GetValue(warmup),
                InitFrom = parse.GetValue(initFrom),
                NoiseOffset = parse.GetValue(noiseOffset),
                LossWeighting = parse.GetValue(weighting) switch
                {
                    "uniform" => LossWeighting.Uniform,
                    "epsilon" => LossWeighting.Epsilon,
                    var other => throw new ArgumentException($"--loss-weighting: '{other}' is not uniform or epsilon."),
                },
                DenoiserSettings = (parse.GetValue(set) ?? []).Select(kv => kv.Split('=', 2) is [var k, var v] && k.Length > 0
                        ? KeyValuePair.Create(k.Trim(), v.Trim()) : throw new ArgumentException($"--set: '{kv}' is not KEY=VALUE."))
                    .ToDictionary(kv => kv.Key, kv => kv.Value),
                Vae = parse.GetValue(vae),
                ZeroTerminalSnr = parse.GetValue(zeroSnr),
                Overwrite = parse.GetValue(overwrite),
                Command = "motiontune " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            var result = BaseModelTraining.Run(options, line => { Console.WriteLine(line); Console.Out.Flush(); });
            PrintGates(result.Evaluation);
            AnsiConsole.MarkupLine($"model written to [bold]{Markup.Escape(result.Folder)}[/] ({result.SizeBytes / 1048576.0:F1} MiB)");
            return result.Evaluation.Passed ? 0 : 2;
        }));
        return command;
    }

    private static Command TrainVae()
    {
        var (output, overwrite, seed) = (OutOption(), OverwriteOption(), SeedOption());
        var minutes = new Option<double?>("--minutes") { Description = "Training time budget in minutes (default 2)." };
        var steps = new Option<int?>("--steps") { Description = "Train this many steps instead of for a time budget." };
        var clips = new Option<int>("--clips") { Description = "Clips per step (each of their frames is a training image).", DefaultValueFactory = _ => 16 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-3 };
        var kl = new Option<double>("--kl-weight") { Description = "Weight of the KL term per latent value against the pixel MSE.", DefaultValueFactory = _ => 1e-4 };
        var channels = new Option<int>("--latent-channels") { Description = "Latent channels.", DefaultValueFactory = _ => 4 };
        var evalClips = new Option<int>("--eval-clips") { Description = "Held-out clips reconstructed and read at the end.", DefaultValueFactory = _ => 64 };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var command = new Command("train-vae", "Train the small KL VAE (24 x 24 frames to 6 x 6 latents) that latent-space ShapesWorld base models are trained on (shapes train --vae).")
            { output, minutes, steps, clips, lr, kl, channels, evalClips, device, seed, overwrite };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var result = ShapesVae.Train(new VaeTrainingOptions
            {
                Output = parse.GetValue(output)!, Minutes = parse.GetValue(minutes), Steps = parse.GetValue(steps), Clips = parse.GetValue(clips),
                LearningRate = parse.GetValue(lr), KlWeight = parse.GetValue(kl), LatentChannels = parse.GetValue(channels),
                EvalClips = parse.GetValue(evalClips), Device = TorchRuntime.ParseDevice(parse.GetValue(device)), Seed = parse.GetValue(seed),
                Overwrite = parse.GetValue(overwrite), Command = "motiontune " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            }, line => { Console.WriteLine(line); Console.Out.Flush(); });
            AnsiConsole.MarkupLine($"VAE written to [bold]{Markup.Escape(result.Folder)}[/]: {Markup.Escape(result.Reconstruction.Summary())}");
            return 0;
        }));
        return command;
    }

    private static Command EvaluateBase()
    {
        var folder = new Argument<string>("folder") { Description = "A base-model pipeline folder (motiontune shapes train --out)." };
        var samples = new Option<int>("--samples") { Description = "Clips to generate, one per held-out caption.", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Seed of the captions and the noise.", DefaultValueFactory = _ => 1 };
        var steps = new Option<int?>("--steps") { Description = "Sampling steps (default: the model's)." };
        var guidance = new Option<double?>("--guidance") { Description = "Guidance scale (default: the model's)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int?>("--batch") { Description = "Clips sampled together (default 64 on a GPU, 4 on the CPU)." };
        var json = new Option<string?>("--json") { Description = "Where to write the JSON results (default: FOLDER/evaluation.json)." };
        var command = new Command("evaluate-base", "Measure a base model's quality gates on held-out captions: colour >= 90%, background >= 90%, shape >= 75%, motion class >= 80%.")
            { folder, samples, seed, steps, guidance, device, batch, json };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var path = parse.GetValue(folder)!;
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device));
            using var pipeline = Pipelines.VideoPipeline.FromPretrained(path, dev);
            var options = new BaseEvaluationOptions
            {
                Samples = parse.GetValue(samples), Seed = parse.GetValue(seed), Steps = parse.GetValue(steps),
                GuidanceScale = parse.GetValue(guidance), BatchSize = parse.GetValue(batch),
            };
            var evaluation = BaseModelEvaluation.Evaluate(SamplingModel.Of(pipeline), options,
                (done, all) => { Console.WriteLine($"{done}/{all} clips"); Console.Out.Flush(); });
            var output = parse.GetValue(json) ?? Path.Combine(path, "evaluation.json");
            IO.AtomicFile.WriteAllText(output, evaluation.ToJson(Path.GetFullPath(path)));
            PrintGates(evaluation);
            AnsiConsole.MarkupLine($"{evaluation.Accuracy.Clips} clips, {evaluation.Steps} steps, guidance {evaluation.GuidanceScale}, {evaluation.Seconds:F0} s; results in [bold]{Markup.Escape(Path.GetFullPath(output))}[/]");
            return evaluation.Passed ? 0 : 2;
        }));
        return command;
    }

    private static void PrintGates(BaseEvaluation evaluation)
    {
        var table = new Table().AddColumn("gate").AddColumn("measured").AddColumn("threshold").AddColumn("");
        foreach (var g in evaluation.Gates)
            table.AddRow(g.Name, $"{g.Value * 100:F1}%", $"{g.Threshold * 100:F0}%", g.Passed ? "[green]pass[/]" : "[red]FAIL[/]");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(evaluation.Passed ? "[green]all gates pass[/]" : "[red]some gates fail[/]");
    }

    private static Command BenchBase()
    {
        var arch = new Option<string>("--arch") { Description = "modelscope, latte, cogvideox or all.", DefaultValueFactory = _ => "all" };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "cpu" };
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats of each pass (the minimum is reported).", DefaultValueFactory = _ => 5 };
        var command = new Command("bench-base", "Time the bundled base models' forward pass, guided sampling step and LoRA training step (float32, fresh weights).")
            { arch, device, repeats };
        command.SetAction(parse => Guarded(() =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device));
            var which = parse.GetValue(arch) == "all"
                ? BaseModels.All
                : [BaseModels.Parse(parse.GetValue(arch)!)];
            Console.WriteLine($"{"model",-11}{"params",11}{"text",9}{"GFLOP",7}{"fwd ms",9}{"guided ms",11}{"LoRA ms",9}{"demo s",8}");
            foreach (var architecture in which)
            {
                var t = BaseModelBenchmark.Measure(BaseModels.Spec(architecture), dev, parse.GetValue(repeats));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{BaseModels.Name(architecture),-11}{t.Parameters,11:N0}{t.TextParameters,9:N0}{t.ForwardGflops,7:F2}{t.Forward,9:F1}{t.GuidedForward,11:F1}{t.LoraStep,9:F1}{t.DemoSeconds(),8:F1}"));
            }
            Console.WriteLine($"on {dev} with {torch.get_num_threads()} threads, minimum of {parse.GetValue(repeats)} runs; fwd: one forward at batch 1; " +
                "guided: one sampling step (batch 2); LoRA: one rank-4 temporal LoRA training step at batch 1; demo: 125 LoRA steps + 3 videos x 25 guided steps");
            return 0;
        }));
        return command;
    }

}
