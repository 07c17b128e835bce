using System.CommandLine;
using MotionTune.Demo;
using Spectre.Console;

namespace MotionTune.Cli.Commands;

/// <summary><c>motiontune demo</c>: the whole method on a bundled ShapesWorld model, on the CPU.</summary>
public static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "motiontune-demo" };
        var model = new Option<string>("--model")
        {
            Description = $"A bundled model ({string.Join(", ", BundledModels.Names())}) or a ShapesWorld pipeline folder.",
            DefaultValueFactory = _ => BundledModels.Default,
        };
        var motion = new Option<string>("--motion") { Description = "The reference clip's custom motion (a shipped motion name).", DefaultValueFactory = _ => "figure-eight" };
        var steps = new Option<int>("--steps") { Description = "Customization (LoRA) steps.", DefaultValueFactory = _ => 150 };
        var lr = new Option<double>("--lr") { Description = "Customization learning rate.", DefaultValueFactory = _ => 1e-3 };
        var samplingSteps = new Option<int>("--sampling-steps") { Description = "Sampling steps per video.", DefaultValueFactory = _ => 25 };
        var probeInterval = new Option<int>("--probe-interval") { Description = "Probe grid interval (the paper uses 100).", DefaultValueFactory = _ => 250 };
        var probeSteps = new Option<int>("--probe-steps") { Description = "Sampling steps of the probe.", DefaultValueFactory = _ => 12 };
        var tau = new Option<int?>("--tau") { Description = "Boundary timestep to customize at (default: the model's recommended one)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the task and the first sample.", DefaultValueFactory = _ => 0 };
        var seeds = new Option<int>("--seeds") { Description = "Samples per edit prompt (seeds --seed, --seed + 1, ...).", DefaultValueFactory = _ => 2 };
        var quick = new Option<bool>("--quick") { Description = "A shortened run (few steps) that checks everything works." };
        var command = new Command("demo",
            "Run the method end to end on a bundled ShapesWorld model on the CPU: reference clip with a custom motion, probe, " +
            "customization at the recommended tau and at tau = 0, edited videos, exact metrics, GIFs and an HTML report.")
        { output, model, motion, steps, lr, samplingSteps, probeInterval, probeSteps, tau, seed, seeds, quick };
        command.SetAction(parse =>
        {
            try
            {
                GlobalOptions.InitializeRuntime(parse);
                bool isQuick = parse.GetValue(quick);
                var options = new DemoOptions
                {
                    Model = BundledModels.Resolve(parse.GetValue(model)!),
                    Output = parse.GetValue(output)!,
                    Motion = parse.GetValue(motion)!,
                    TrainingSteps = isQuick ? 8 : parse.GetValue(steps),
                    LearningRate = parse.GetValue(lr),
                    SamplingSteps = isQuick ? 4 : parse.GetValue(samplingSteps),
                    ProbeInterval = isQuick ? 500 : parse.GetValue(probeInterval),
                    ProbeSteps = isQuick ? 4 : parse.GetValue(probeSteps),
                    Tau = parse.GetValue(tau),
                    Seed = parse.GetValue(seed),
                    Seeds = isQuick ? 1 : parse.GetValue(seeds),
                };
                if (options.TrainingSteps <= 0 || options.SamplingSteps <= 0 || options.ProbeSteps <= 0 || options.Seeds <= 0)
                    throw new ArgumentException("--steps, --sampling-steps, --probe-steps and --seeds must be positive.");
                if (options.Tau is int t && (t < 0 || t > 999))
                    throw new ArgumentException($"--tau {t}: must lie in [0, 999] (training draws t from [tau, 1000)).");
                if (options.ProbeInterval <= 0 || 1000 % options.ProbeInterval != 0)
                    throw new ArgumentException($"--probe-interval {options.ProbeInterval}: must divide 1000 (e.g. 100, 250, 500).");
                var result = MotionTune.Demo.Demo.Run(options, line => AnsiConsole.MarkupLine(Markup.Escape(line)));
                AnsiConsole.MarkupLine($"[green]done in {result.Elapsed.TotalSeconds:F0} s.[/] Open [bold]{Markup.Escape(result.Report)}[/] " +
                                       $"(GIFs and the probe figures are beside it).");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or FormatException or InvalidOperationException)
            {
                AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
                return 1;
            }
        });
        return command;
    }
}
