using System.CommandLine;
using System.Globalization;
using MotionTune.Customization;
using MotionTune.Evaluation;
using MotionTune.IO;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using MotionTune.Video;
using Spectre.Console;
using static TorchSharp.torch;

namespace MotionTune.Cli.Commands;

/// <summary>What the model-running commands share: device and dtype flags, error handling, Ctrl+C, progress.</summary>
internal static class CommandSupport
{
    /// <summary>Exit code of a run stopped by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int CancelledExitCode = 130;

    public static Option<string> DeviceOption() => new("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };

    public static Option<string?> DTypeOption() => new Option<string?>("--dtype")
    {
        Description = "Weights' dtype: fp32, bf16 or fp16 (default: bf16 on a GPU, fp32 on the CPU).",
    }.AcceptOnlyFromAmong("fp32", "bf16", "fp16");

    public static ScalarType? ParseDType(string? name) => name switch
    {
        null => null,
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        "fp16" => ScalarType.Float16,
        _ => throw new ArgumentException($"--dtype: '{name}' is not one of fp32, bf16, fp16."),
    };

    public static Argument<string> PipelineArgument() =>
        new("pipeline") { Description = "A diffusers pipeline folder (model_index.json, scheduler/, text_encoder/, tokenizer/, unet/ or transformer/, vae/)." };

    public static Option<int?> FramesOption() => new("--frames") { Description = "Frames per clip (default: the pipeline's)." };

    public static Option<int?> HeightOption() => new("--height") { Description = "Frame height in pixels (default: the pipeline's)." };

    public static Option<int?> WidthOption() => new("--width") { Description = "Frame width in pixels (default: the pipeline's)." };

    /// <summary>The architecture and training timestep count of a pipeline folder, read without loading any weights (to check options first).</summary>
    /// <exception cref="FileNotFoundException">No model_index.json.</exception>
    /// <exception cref="NotSupportedException">A denoiser MotionTune does not implement.</exception>
    public static (Architecture Architecture, int NumTrainTimesteps) Peek(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"pipeline folder not found: {folder}");
        var index = ModelIndex.Load(folder);
        var className = index.Components.TryGetValue("unet", out var unet) ? unet.ClassName
            : index.Components.TryGetValue("transformer", out var transformer) ? transformer.ClassName
            : throw new FileNotFoundException($"{folder}/model_index.json names neither a 'unet' nor a 'transformer' component.");
        var architecture = className switch
        {
            "UNet3DConditionModel" => Architecture.ModelScope,
            "LatteTransformer3DModel" => Architecture.Latte,
            "CogVideoXTransformer3DModel" => Architecture.CogVideoX,
            _ => throw new NotSupportedException($"{folder}: denoiser class '{className}' is not supported."),
        };
        return (architecture, DdimScheduler.FromPretrained(folder).Config.NumTrainTimesteps);
    }

    /// <summary>Loads a pipeline with the device and dtype flags, saying what it loaded.</summary>
    public static VideoPipeline LoadPipeline(string folder, string device, string? dtype)
    {
        var dev = TorchRuntime.ParseDevice(device);
        var pipeline = VideoPipeline.FromPretrained(folder, dev, ParseDType(dtype));
        AnsiConsole.MarkupLine($"loaded [bold]{pipeline.Architecture}[/] from {Markup.Escape(folder)} on {pipeline.Device} ({pipeline.DType})");
        return pipeline;
    }

    /// <summary>Checks that a video file or frame folder exists (before any model is loaded).</summary>
    public static void RequireVideo(string path, string flag)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{flag}: video not found: {path}", path);
    }

    /// <summary>A shard spec from the flag (null: the whole dataset).</summary>
    public static ShardSpec Shard(string? text) => text is null ? ShardSpec.All : ShardSpec.Parse(text);

    /// <summary>
    /// Runs a command body: initialises libtorch, turns the first Ctrl+C into a cancellation request (a second one aborts),
    /// and reports bad input (missing files, malformed data, bad options) as one red line with exit code 1 and a
    /// cancellation with exit code 130.
    /// </summary>
    public static int Run(ParseResult parse, Func<CancellationToken, int> body)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // the second Ctrl+C ends the process
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine("stopping at the next step (press Ctrl+C again to abort now)");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            GlobalOptions.InitializeRuntime(parse);
            return body(cancel.Token);
        }
        catch (OperationCanceledException e)
        {
            AnsiConsole.MarkupLine($"[yellow]cancelled[/]{(e.Message.Length > 0 && e.Message != new OperationCanceledException().Message ? ": " + Markup.Escape(e.Message) : "")}");
            return CancelledExitCode;
        }
        catch (Exception e) when (IsUserError(e))
        {
            AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(Message(e))}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    // An ArgumentException's message without the " (Parameter 'x')" and "Actual value was" lines .NET appends.
    private static string Message(Exception e)
    {
        var text = e.Message;
        if (e is ArgumentException { ParamName: { } name })
        {
            int at = text.IndexOf($" (Parameter '{name}')", StringComparison.Ordinal);
            if (at >= 0) text = text[..at];
        }
        return text;
    }

    private static bool IsUserError(Exception e) => e is ArgumentException or FormatException or IOException or InvalidDataException
        or TgveDatasetException or VideoFormatException or NotSupportedException or InvalidOperationException or System.Text.Json.JsonException;

    /// <summary>
    /// Runs <paramref name="body"/> with a progress display: a Spectre progress bar on a terminal, otherwise (logs, CI,
    /// tests) a line every few seconds and at the end.
    /// </summary>
    public static T WithProgress<T>(string title, Func<ProgressLine, T> body)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return body(new ProgressLine((description, _, _) => AnsiConsole.WriteLine($"{title}: {description}")));
        return AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(title));
                var result = body(new ProgressLine((description, done, total) =>
                {
                    task.Description = Markup.Escape($"{title}: {description}");
                    task.MaxValue = Math.Max(total, 1e-9);
                    task.Value = Math.Min(done, task.MaxValue);
                }, interactive: true));
                task.Value = task.MaxValue;
                return result;
            });
    }

    public static string Duration(TimeSpan span) => span.TotalHours >= 1
        ? span.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : span.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    /// <summary>"step 12/300, loss 0.1234, 3.2 it/s, ETA 1:10".</summary>
    public static string Describe(TrainingProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"step {p.Step}/{p.Steps}, loss {p.Loss:F4}, {p.StepsPerSecond:F2} it/s, ETA {Duration(p.Eta)}");

    /// <summary>Writes frames as .mp4 / .gif by extension, or as a folder of PNG frames when the path has no extension.</summary>
    public static void WriteVideo(string path, Tensor frames, double fps)
    {
        if (Path.GetExtension(path).Length == 0) VideoFile.WriteFrames(path, frames);
        else VideoFile.Write(path, frames, fps);
    }

    /// <summary>Checks an output path for <see cref="WriteVideo"/>: .mp4, .gif or a folder.</summary>
    public static void CheckVideoOutput(string path, string flag)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not ("" or ".mp4" or ".gif"))
            throw new ArgumentException($"{flag} {path}: write .mp4, .gif, or a folder of PNG frames (a path without extension), not '{extension}'.");
    }
}

/// <summary>Reports progress to <see cref="CommandSupport.WithProgress"/>'s display.</summary>
internal sealed class ProgressLine(Action<string, double, double> show, bool interactive = false)
{
    private DateTime _last = DateTime.MinValue;

    /// <summary>How often a non-interactive display writes a line.</summary>
    public static TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Shows <paramref name="description"/> with <paramref name="done"/> of <paramref name="total"/>; <paramref name="force"/> writes a line in any case.</summary>
    public void Report(string description, double done, double total, bool force = false)
    {
        if (!interactive && !force && done < total && DateTime.UtcNow - _last < Interval) return;
        _last = DateTime.UtcNow;
        show(description, done, total);
    }
}
