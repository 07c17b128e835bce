using System.CommandLine;
using System.Globalization;
using MotionTune.Customization;
using MotionTune.Pipelines;
using Spectre.Console;

namespace MotionTune.Cli.Commands;

/// <summary>
/// <c>motiontune customize</c>: one-shot motion customization (paper section 4) of a pipeline to a reference video,
/// trained at t ∈ [τ, T) only, written as a LoRA (or tuned-weights) safetensors file with τ in its metadata.
/// </summary>
public static class CustomizeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var pipelineFolder = CommandSupport.PipelineArgument();
        var video = new Option<string>("--video") { Description = "The reference video: an mp4/webm/gif file or a folder of frames.", Required = true };
        var caption = new Option<string>("--caption") { Description = "The reference video's caption.", Required = true };
        var output = new Option<string>("--out") { Description = "The customization file (.safetensors).", Required = true };
        var (frames, height, width) = (CommandSupport.FramesOption(), CommandSupport.HeightOption(), CommandSupport.WidthOption());
        var validatePrompt = new Option<string?>("--validate-prompt") { Description = "Prompt of the validation samples (default: the caption)." };
        var validateSteps = new Option<int?>("--validate-steps") { Description = "DDIM steps of a validation sample (default: the pipeline's)." };
        var validateSeed = new Option<long>("--validate-seed") { Description = "Seed of the validation samples.", DefaultValueFactory = _ => 0 };
        var (device, dtype) = (CommandSupport.DeviceOption(), CommandSupport.DTypeOption());
        var flags = new CustomizationFlags(perRun: true);

        var command = new Command("customize", "Customize a pipeline to the motion of one reference video (LoRA on the temporal attention at t >= tau).")
        {
            pipelineFolder, video, caption, output, frames, height, width, validatePrompt, validateSteps, validateSeed, device, dtype,
        };
        flags.AddTo(command);
        command.SetAction(parse => CommandSupport.Run(parse, cancellation =>
        {
            // Everything that can be checked without the weights is checked before loading them.
            var folder = parse.GetValue(pipelineFolder)!;
            var outPath = parse.GetValue(output)!;
            if (!string.Equals(Path.GetExtension(outPath), ".safetensors", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--out {outPath}: the customization is written as a .safetensors file.");
            var videoPath = parse.GetValue(video)!;
            CommandSupport.RequireVideo(videoPath, "--video");
            if (string.IsNullOrWhiteSpace(parse.GetValue(caption))) throw new ArgumentException("--caption is empty.");
            var (architecture, timesteps) = CommandSupport.Peek(folder);
            var options = flags.Read(parse, architecture);
            options.Validate(timesteps);

            using var pipeline = CommandSupport.LoadPipeline(folder, parse.GetValue(device)!, parse.GetValue(dtype));
            using var clip = ReferenceVideo.Read(pipeline, videoPath, parse.GetValue(frames), parse.GetValue(height), parse.GetValue(width));
            AnsiConsole.MarkupLine(Markup.Escape($"reference {videoPath}: {clip.FrameCount} frames of {clip.Width}x{clip.Height}; " +
                $"{(options.Full ? "full-parameter" : $"LoRA rank {options.Rank}")} on '{options.Targets}' at t in [{options.Tau}, {timesteps}), {options.Steps} steps" +
                (options.Resume is { } r ? $", resuming from {r}" : "")));

            var sampling = new GenerationOptions
            {
                Frames = clip.FrameCount, Height = clip.Height, Width = clip.Width, Steps = parse.GetValue(validateSteps), Seed = parse.GetValue(validateSeed),
                LoraMode = options.LoraMode,
            };
            var validationPrompt = parse.GetValue(validatePrompt) ?? parse.GetValue(caption)!;
            var trained = CommandSupport.WithProgress("customize", line =>
                PipelineCustomizer.Train(pipeline, clip.Frames, parse.GetValue(caption)!, options,
                    progress: p => line.Report(CommandSupport.Describe(p), p.Step, p.Steps, force: p.Step == p.Steps),
                    validate: v =>
                    {
                        using var sample = pipeline.Generate(validationPrompt, sampling, v.Customization, options.Tau);
                        var path = ValidationPath(outPath, v.Step);
                        CommandSupport.WriteVideo(path, sample, 8);
                        line.Report($"step {v.Step}: validation sample {path}", v.Step, options.Steps, force: true);
                    },
                    cancellation: cancellation));
            using var customization = trained.Customization;
            var losses = trained.Result.Losses;
            if (trained.Cancelled)
            {
                var hint = trained.Result.LastCheckpoint is { } checkpoint
                    ? $"resume with --resume {checkpoint}"
                    : "no checkpoint was written (use --checkpoint-dir to make runs resumable)";
                throw new OperationCanceledException($"stopped after step {losses.Count} of {options.Steps}; {outPath} was not written; {hint}.");
            }
            customization.Save(outPath);
            string Mean(IEnumerable<float> values) => values.Any() ? values.Average().ToString("F4", CultureInfo.InvariantCulture) : "-";
            int window = Math.Max(1, Math.Min(10, losses.Count / 4));
            AnsiConsole.MarkupLine($"loss {Mean(losses.Take(window))} (first {window} steps) → {Mean(losses.TakeLast(window))} (last {window}) in {CommandSupport.Duration(trained.Result.Elapsed)}" +
                (trained.Result.ResumedFrom > 0 ? $", resumed after step {trained.Result.ResumedFrom}" : ""));
            AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(outPath)}[/] (tau {options.Tau}); sample with: motiontune generate {Markup.Escape(folder)} --customization {Markup.Escape(outPath)} --prompt ...");
            return 0;
        }));
        return command;
    }

    /// <summary>Validation samples go next to the output: <c>motion.safetensors</c> → <c>motion.step000100.mp4</c>.</summary>
    internal static string ValidationPath(string output, int step) =>
        Path.Combine(Path.GetDirectoryName(output) ?? "", $"{Path.GetFileNameWithoutExtension(output)}.step{step:D6}.mp4");
}
