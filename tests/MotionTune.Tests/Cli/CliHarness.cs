using System.Text.Json.Nodes;
using MotionTune.Cli;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.Tests.Parity;
using MotionTune.Tests.Pipelines;
using MotionTune.Video;
using Spectre.Console;

namespace MotionTune.Tests.Cli;

/// <summary>
/// The model-running commands' tests share one collection: they swap the global Spectre console to read what a command
/// printed, so they must not run alongside each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CliCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "cli commands";
}

/// <summary>Runs <c>motiontune</c> through <see cref="Program.BuildRoot"/> and builds the tiny inputs the commands need.</summary>
internal sealed class CliHarness : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("motiontune-cli-").FullName;

    public CliHarness() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    public string At(params string[] parts) => Path.Combine([Dir, .. parts]);

    /// <summary>Runs the command line; returns the exit code and what it printed to the Spectre console.</summary>
    public static (int Code, string Output) Run(params string[] args)
    {
        var before = AnsiConsole.Console;
        var writer = new StringWriter();
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        AnsiConsole.Console.Profile.Width = 4096; // one line per message, for the tests' substring checks
        try
        {
            int code = Program.BuildRoot().Parse(args).Invoke();
            return (code, writer.ToString());
        }
        finally
        {
            AnsiConsole.Console = before;
        }
    }

    private string? _latte;

    /// <summary>The tiny Latte pipeline (32 x 32 pixels, 4 frames), built once per harness.</summary>
    public string Latte => _latte ??= TinyPipelines.Latte(At("latte"));

    /// <summary>Sizes every command takes for the tiny pipelines.</summary>
    public static readonly string[] TinyClip = ["--frames", "4", "--height", "32", "--width", "32"];

    /// <summary>A ShapesWorld task set of <paramref name="count"/> tasks at 32 x 32 with 4 frames (a TGVE dataset).</summary>
    public string Tasks(int count = 2, string name = "tasks")
    {
        var folder = At(name);
        TaskSet.Write(folder, TaskSet.Create(CustomMotions.BuiltIn().Take(count).ToArray()), new RenderSettings { Height = 32, Width = 32 }, frames: 4);
        return folder;
    }

    /// <summary>A reference clip as a PNG frame folder: the first task's frames of a one-task set.</summary>
    public string ReferenceVideo(out string caption)
    {
        var tasks = Tasks(1, "reference-task");
        var task = TaskSet.Read(tasks)[0];
        caption = task.Caption;
        return Path.Combine(tasks, TaskSet.FramesFolder, task.Name);
    }

    /// <summary>
    /// A transformers CLIPModel folder from the clip_gelu fixture, with the tokenizer_clip vocabulary and the fixture's
    /// image processor.
    /// </summary>
    public string Clip()
    {
        var dir = At("clip");
        if (Directory.Exists(dir)) return dir;
        Directory.CreateDirectory(dir);
        var fixture = Path.Combine(Fixtures.Root, "clip_gelu");
        File.Copy(Path.Combine(fixture, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture, "config.json")))!;
        config["text_config"] = TinyTextFolders.ClipTextConfig();
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        TinyTextFolders.ClipTokenizer(dir, padToken: "<|endoftext|>");
        File.Copy(Path.Combine(Fixtures.Root, "clip_image_processor", "preprocessor_config.json"), Path.Combine(dir, "preprocessor_config.json"));
        return dir;
    }

    /// <summary>The frames of a written video (PNG folder, mp4, gif).</summary>
    public static TorchSharp.torch.Tensor Frames(string path)
    {
        using var clip = VideoFile.Read(path);
        return clip.DetachFrames();
    }
}
