using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MotionTune.IO;
using MotionTune.Metrics;
using MotionTune.Models.Vision;
using MotionTune.Runtime;
using MotionTune.Video;
using Spectre.Console;
using static TorchSharp.torch;

namespace MotionTune.Cli.Commands;

/// <summary>
/// <c>motiontune score</c>: the paper's metrics of one video (CLIP text alignment, temporal consistency, PickScore, and
/// with <c>--reference</c> the optical-flow similarity), printed as a table or written as JSON.
/// </summary>
public static class ScoreCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var video = new Argument<string>("video") { Description = "The generated video: an mp4/webm/gif file or a folder of frames." };
        var prompt = new Option<string>("--prompt") { Description = "The prompt the video should show.", Required = true };
        var clip = new Option<string>("--clip") { Description = "CLIP ViT-L/14 folder (a transformers CLIPModel: openai/clip-vit-large-patch14).", Required = true };
        var pickScore = new Option<string?>("--pickscore") { Description = "PickScore folder (yuvalkirstain/PickScore_v1); without it PickScore is skipped." };
        var pickScoreProcessor = new Option<string?>("--pickscore-processor") { Description = "Folder with PickScore's tokenizer and preprocessor_config.json, if not in --pickscore (laion/CLIP-ViT-H-14-laion2B-s32B-b79K)." };
        var reference = new Option<string?>("--reference") { Description = "The reference video, read at the video's frame count and size, for the optical-flow similarity." };
        var frames = new Option<int?>("--frames") { Description = "Sample this many frames evenly (default: all)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var dtype = new Option<string>("--dtype") { Description = "fp32, bf16 or fp16 (half precision on a GPU only).", DefaultValueFactory = _ => "fp32" };
        var batchSize = new Option<int>("--batch-size") { Description = "Frames per pass through the vision tower.", DefaultValueFactory = _ => 16 };
        var backend = new Option<string>("--image-backend") { Description = "torchvision (transformers 5's default) or pil.", DefaultValueFactory = _ => "torchvision" };
        var pairs = new Option<string>("--pairs") { Description = "Temporal consistency over consecutive frames or all pairs (LOVEU-TGVE's script).", DefaultValueFactory = _ => "consecutive" };
        var output = new Option<string?>("--output") { Description = "Write the scores as JSON to this file instead of printing a table." };

        var command = new Command("score", "Score a generated video: CLIP text alignment, temporal consistency, PickScore, optical-flow similarity.")
        {
            video, prompt, clip, pickScore, pickScoreProcessor, reference, frames, device, dtype, batchSize, backend, pairs, output,
        };
        command.SetAction(parse =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device));
            var type = parse.GetValue(dtype) switch
            {
                "fp32" => ScalarType.Float32,
                "bf16" => ScalarType.BFloat16,
                "fp16" => ScalarType.Float16,
                var other => throw new ArgumentException($"--dtype: '{other}' is not one of fp32, bf16, fp16."),
            };
            var imageBackend = parse.GetValue(backend) switch
            {
                "torchvision" => ImageProcessorBackend.Torchvision,
                "pil" => ImageProcessorBackend.Pil,
                var other => throw new ArgumentException($"--image-backend: '{other}' is not torchvision or pil."),
            };
            var framePairs = parse.GetValue(pairs) switch
            {
                "consecutive" => FramePairs.Consecutive,
                "all" => FramePairs.AllPairs,
                var other => throw new ArgumentException($"--pairs: '{other}' is not consecutive or all."),
            };
            ClipMetricModelOptions Model(string folder, string? processor = null) => new()
            {
                Folder = folder, ProcessorFolder = processor, Device = dev, DType = type, BatchSize = parse.GetValue(batchSize), Backend = imageBackend,
            };

            using var clipVideo = VideoFile.Read(parse.GetValue(video)!, new VideoReadOptions { FrameCount = parse.GetValue(frames) });
            using var referenceVideo = parse.GetValue(reference) is { } referencePath
                ? VideoFile.Read(referencePath, new VideoReadOptions { FrameCount = clipVideo.FrameCount, Height = clipVideo.Height, Width = clipVideo.Width })
                : null;
            using var metrics = new VideoMetrics(new VideoMetricsOptions
            {
                Clip = Model(parse.GetValue(clip)!),
                PickScore = parse.GetValue(pickScore) is { } pickFolder ? Model(pickFolder, parse.GetValue(pickScoreProcessor)) : null,
                TemporalPairs = framePairs,
            });
            var scores = metrics.Evaluate(clipVideo, parse.GetValue(prompt)!, referenceVideo);

            if (parse.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(scores, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            static string Show(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "-";
            var table = new Table().AddColumn("metric").AddColumn("value");
            table.AddRow("frames", scores.Frames.ToString(CultureInfo.InvariantCulture));
            table.AddRow("text alignment (100 cos)", Show(scores.TextAlignment));
            table.AddRow($"temporal consistency ({parse.GetValue(pairs)}, 100 cos)", Show(scores.TemporalConsistency));
            table.AddRow("PickScore", Show(scores.PickScore));
            table.AddRow("optical-flow similarity", Show(scores.OpticalFlowSimilarity));
            table.AddRow("flow points tracked", Show(scores.OpticalFlowValidFraction));
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
