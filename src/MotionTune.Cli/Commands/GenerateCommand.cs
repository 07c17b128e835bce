using System.CommandLine;
using System.Globalization;
using MotionTune.Customization;
using MotionTune.Pipelines;
using Spectre.Console;

namespace MotionTune.Cli.Commands;

/// <summary>
/// <c>motiontune generate</c>: text-to-video with a pipeline folder, optionally with a motion customization that acts
/// only at t ≥ τ (the paper's timestep-constrained sampling).
/// </summary>
public static class GenerateCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var pipelineFolder = CommandSupport.PipelineArgument();
        var prompt = new Option<string>("--prompt") { Description = "The prompt.", Required = true };
        var negative = new Option<string>("--negative") { Description = "Negative prompt of classifier-free guidance.", DefaultValueFactory = _ => "" };
        var (frames, height, width) = (CommandSupport.FramesOption(), CommandSupport.HeightOption(), CommandSupport.WidthOption());
        var steps = new Option<int?>("--steps") { Description = "DDIM steps (default: the pipeline's)." };
        var guidance = new Option<double?>("--guidance") { Description = "Classifier-free guidance scale (default: the pipeline's; 1: none)." };
        var eta = new Option<double>("--eta") { Description = "DDIM eta (0: deterministic).", DefaultValueFactory = _ => 0 };
        var seed = new Option<long>("--seed") { Description = "Seed of the first video.", DefaultValueFactory = _ => 0 };
        var seeds = new Option<int>("--seeds") { Description = "Videos to make, with seeds seed, seed+1, ... (files get a _seedN suffix).", DefaultValueFactory = _ => 1 };
        var lora = new Option<string?>("--lora") { Description = "A LoRA file (ours, diffusers' or peft's)." };
        var customization = new Option<string?>("--customization") { Description = "A customization file (LoRA or full-parameter) written by 'motiontune customize'." };
        var tau = new Option<int?>("--tau") { Description = "Apply the customization at t >= tau (default: the tau in the file's metadata)." };
        var loraMode = new Option<string>("--lora-mode") { Description = "merged or separate LoRA application.", DefaultValueFactory = _ => "merged" }
            .AcceptOnlyFromAmong("merged", "separate");
        var output = new Option<string>("--out") { Description = "Output .mp4, .gif, or a folder of PNG frames (no extension).", Required = true };
        var fps = new Option<double>("--fps") { Description = "Frames per second of the written video.", DefaultValueFactory = _ => 8 };
        var (device, dtype) = (CommandSupport.DeviceOption(), CommandSupport.DTypeOption());

        var command = new Command("generate", "Generate videos from a prompt, optionally with a motion customization applied at t >= tau.")
        {
            pipelineFolder, prompt, negative, frames, height, width, steps, guidance, eta, seed, seeds, lora, customization, tau, loraMode, output, fps, device, dtype,
        };
        command.SetAction(parse => CommandSupport.Run(parse, cancellation =>
        {
            var outPath = parse.GetValue(output)!;
            CommandSupport.CheckVideoOutput(outPath, "--out");
            int count = parse.GetValue(seeds);
            if (count < 1) throw new ArgumentException($"--seeds must be at least 1, not {count}.");
            if (parse.GetValue(lora) is not null && parse.GetValue(customization) is not null)
                throw new ArgumentException("give --lora or --customization, not both.");
            var customizationPath = parse.GetValue(lora) ?? parse.GetValue(customization);
            if (customizationPath is null && parse.GetValue(tau) is not null) throw new ArgumentException("--tau needs --lora or --customization.");
            if (customizationPath is not null && !File.Exists(customizationPath)) throw new FileNotFoundException($"customization file not found: {customizationPath}", customizationPath);
            var mode = CustomizationFlags.ParseLoraMode(parse.GetValue(loraMode));

            using var pipeline = CommandSupport.LoadPipeline(parse.GetValue(pipelineFolder)!, parse.GetValue(device)!, parse.GetValue(dtype));
            int? f = parse.GetValue(frames), h = parse.GetValue(height), w = parse.GetValue(width);
            var options = new GenerationOptions
            {
                Frames = f ?? pipeline.Defaults.Frames, Height = h ?? pipeline.Defaults.Height, Width = w ?? pipeline.Defaults.Width,
                Steps = parse.GetValue(steps) ?? pipeline.Defaults.Steps, GuidanceScale = parse.GetValue(guidance) ?? pipeline.Defaults.GuidanceScale,
                NegativePrompt = parse.GetValue(negative)!, Eta = parse.GetValue(eta), LoraMode = mode,
            };
            if (options.Steps < 1) throw new ArgumentException($"--steps must be positive, not {options.Steps}.");
            if (options.GuidanceScale is not double g || !double.IsFinite(g) || g < 0) throw new ArgumentException($"--guidance must be a non-negative number, not {options.GuidanceScale}.");
            if (!(options.Eta >= 0) || !double.IsFinite(options.Eta)) throw new ArgumentException($"--eta must be a non-negative number, not {options.Eta}.");
            ReferenceVideo.CheckSize(pipeline, options.Frames!.Value, options.Height!.Value, options.Width!.Value);

            using var adapters = customizationPath is null ? null : CustomizationFile.Load(pipeline.Model, customizationPath);
            int? boundary = null;
            if (adapters is not null)
            {
                int t = pipeline.Scheduler.Config.NumTrainTimesteps;
                boundary = parse.GetValue(tau) ?? adapters.Tau
                    ?? throw new ArgumentException($"{customizationPath} records no tau in its metadata; give --tau.");
                if (boundary < 0 || boundary > t) throw new ArgumentException($"--tau {boundary} is out of range [0, {t}].");
                AnsiConsole.MarkupLine($"customization {Markup.Escape(customizationPath!)} ({adapters.Method}) at t >= {boundary}" +
                    (parse.GetValue(tau) is null ? " (tau from the file)" : ""));
            }

            long first = parse.GetValue(seed);
            var written = new List<string>();
            CommandSupport.WithProgress("generate", line =>
            {
                for (int k = 0; k < count; k++)
                {
                    long s = first + k;
                    int total = options.Steps!.Value * count, before = options.Steps.Value * k;
                    var video = pipeline.Generate(parse.GetValue(prompt)!, options with
                    {
                        Seed = s,
                        Progress = p =>
                        {
                            line.Report($"seed {s}: step {p.Index}/{p.Count} (t = {p.Timestep})", before + p.Index, total);
                            cancellation.ThrowIfCancellationRequested();
                        },
                    }, adapters, boundary);
                    using (video)
                    {
                        var path = count == 1 ? outPath : WithSeed(outPath, s);
                        CommandSupport.WriteVideo(path, video, parse.GetValue(fps));
                        written.Add(path);
                    }
                }
                return 0;
            });
            foreach (var path in written) AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(path)}[/]");
            return 0;
        }));
        return command;
    }

    /// <summary>"out.mp4" → "out_seed3.mp4"; a folder "out" → "out/seed3".</summary>
    internal static string WithSeed(string path, long seed)
    {
        var extension = Path.GetExtension(path);
        var tag = seed.ToString(CultureInfo.InvariantCulture);
        return extension.Length == 0
            ? Path.Combine(path, $"seed{tag}")
            : Path.Combine(Path.GetDirectoryName(path) ?? "", $"{Path.GetFileNameWithoutExtension(path)}_seed{tag}{extension}");
    }
}
