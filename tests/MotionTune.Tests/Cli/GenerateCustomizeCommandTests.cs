using System.Text.Json;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Tests.Pipelines;
using Xunit.Abstractions;

namespace MotionTune.Tests.Cli;

/// <summary><c>motiontune generate</c> and <c>motiontune customize</c> on the tiny pipelines.</summary>
[Collection(CliCollection.Name)]
public sealed class GenerateCustomizeCommandTests(ITestOutputHelper log) : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private (int Code, string Output) Run(params string[] args)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = CliHarness.Run(args);
        log.WriteLine($"$ motiontune {string.Join(' ', args)}\n{result.Output}(exit {result.Code}, {clock.Elapsed.TotalSeconds:F1} s)");
        return result;
    }

    private string[] Generate(string pipeline, string output, params string[] extra) =>
        ["generate", pipeline, "--prompt", "a red circle on a white background", "--steps", "2", "--guidance", "3", .. CliHarness.TinyClip, "--out", output, .. extra];

    [Fact]
    public void GenerateWritesVideosDeterministicallyPerSeed()
    {
        var pipeline = TinyPipelines.ModelScope(_cli.At("modelscope"));
        Assert.Equal(0, Run(Generate(pipeline, _cli.At("a"), "--seed", "5")).Code);
        Assert.Equal(0, Run(Generate(pipeline, _cli.At("b"), "--seed", "5")).Code);
        Assert.Equal(0, Run(Generate(pipeline, _cli.At("c.mp4"), "--seeds", "2", "--seed", "5")).Code);

        using var a = CliHarness.Frames(_cli.At("a"));
        using var b = CliHarness.Frames(_cli.At("b"));
        Assert.Equal(new long[] { 4, 32, 32, 3 }, a.shape);
        Assert.True(a.SameAs(b), "the same seed must give the same frames");
        Assert.True(File.Exists(_cli.At("c_seed5.mp4")) && File.Exists(_cli.At("c_seed6.mp4")));
        using var seed6 = CliHarness.Frames(_cli.At("c_seed6.mp4"));
        Assert.Equal(4, seed6.shape[0]);
    }

    [Fact]
    public void CustomizeWritesALoraWithTauThatGenerateApplies()
    {
        var video = _cli.ReferenceVideo(out var caption);
        var lora = _cli.At("motion.safetensors");
        var (code, output) = Run(["customize", _cli.Latte, "--video", video, "--caption", caption, "--out", lora, "--tau", "400", "--steps", "3",
            "--lr", "0.05", "--validate-every", "3", "--validate-steps", "2", .. CliHarness.TinyClip]);
        Assert.Equal(0, code);
        Assert.Contains("step 3/3", output);
        Assert.True(File.Exists(_cli.At("motion.step000003.mp4")), "a validation sample is written next to the output");

        using (var file = SafeTensorsFile.Open(lora))
        {
            var settings = JsonDocument.Parse(file.Metadata[LoraNetwork.MotionTuneMetadataKey]).RootElement;
            Assert.Equal(400, settings.GetProperty("tau").GetInt32());
            Assert.Contains(file.Entries.Keys, k => k.StartsWith("transformer.", StringComparison.Ordinal) && k.EndsWith(".lora_B.weight", StringComparison.Ordinal));
        }

        // The file's tau applies by default; tau = T never switches the LoRA on, so it samples the base model exactly.
        var (fromFile, printed) = Run(Generate(_cli.Latte, _cli.At("tuned"), "--lora", lora));
        Assert.Equal(0, fromFile);
        Assert.Contains("t >= 400 (tau from the file)", printed);
        Assert.Equal(0, Run(Generate(_cli.Latte, _cli.At("base"))).Code);
        Assert.Equal(0, Run(Generate(_cli.Latte, _cli.At("never"), "--lora", lora, "--tau", "1000")).Code);
        Assert.Equal(0, Run(Generate(_cli.Latte, _cli.At("always"), "--lora", lora, "--tau", "0", "--lora-mode", "separate")).Code);
        using var baseFrames = CliHarness.Frames(_cli.At("base"));
        using var never = CliHarness.Frames(_cli.At("never"));
        using var always = CliHarness.Frames(_cli.At("always"));
        Assert.True(never.SameAs(baseFrames), "with tau = 1000 the LoRA must never act");
        Assert.False(always.SameAs(baseFrames), "with tau = 0 the trained LoRA must change the video");

        // The full-parameter variant writes tuned weights, which generate loads through the same flag.
        var full = _cli.At("full.safetensors");
        Assert.Equal(0, Run(["customize", _cli.Latte, "--video", video, "--caption", caption, "--out", full, "--full", "--tau", "400", "--steps", "1", .. CliHarness.TinyClip]).Code);
        (fromFile, printed) = Run(Generate(_cli.Latte, _cli.At("full"), "--customization", full));
        Assert.Equal(0, fromFile);
        Assert.Contains("(full) at t >= 400", printed);
    }

    [Fact]
    public void ResumedCustomizationEqualsAnUninterruptedOne()
    {
        var video = _cli.ReferenceVideo(out var caption);
        string[] Customize(string output, params string[] extra) =>
            ["customize", _cli.Latte, "--video", video, "--caption", caption, "--out", output, "--tau", "300", "--lr", "0.01", "--seed", "2", .. CliHarness.TinyClip, .. extra];

        Assert.Equal(0, Run(Customize(_cli.At("straight.safetensors"), "--steps", "4")).Code);
        var checkpoints = _cli.At("checkpoints");
        Assert.Equal(0, Run(Customize(_cli.At("half.safetensors"), "--steps", "2", "--checkpoint-every", "1", "--checkpoint-dir", checkpoints, "--keep-checkpoints", "1")).Code);
        Assert.Single(Directory.GetFiles(checkpoints, "checkpoint-*.safetensors"));
        var (code, output) = Run(Customize(_cli.At("resumed.safetensors"), "--steps", "4", "--checkpoint-dir", checkpoints, "--resume", checkpoints));
        Assert.Equal(0, code);
        Assert.Contains("resumed after step 2", output);

        using var straight = SafeTensorsFile.Open(_cli.At("straight.safetensors"));
        using var resumed = SafeTensorsFile.Open(_cli.At("resumed.safetensors"));
        Assert.Equal(straight.Entries.Keys.Order(), resumed.Entries.Keys.Order());
        foreach (var key in straight.Entries.Keys)
            Assert.True(straight.Read(key).SameAs(resumed.Read(key)), $"{key} differs after resuming");

        // A resume with other trajectory settings is refused, naming the flag.
        var (refused, message) = Run(Customize(_cli.At("other.safetensors"), "--steps", "4", "--warmup", "2", "--resume", checkpoints));
        Assert.Equal(1, refused);
        Assert.Contains("--warmup", message);
        Assert.False(File.Exists(_cli.At("other.safetensors")));
    }

    [Fact]
    public void BadInputGetsAClearErrorBeforeAnythingIsWritten()
    {
        var video = _cli.ReferenceVideo(out var caption);
        var output = _cli.At("bad.safetensors");
        string[] Customize(params string[] extra) =>
            ["customize", _cli.Latte, "--video", video, "--caption", caption, "--out", output, .. extra];

        var (code, message) = Run(Customize("--tau", "1000", "--steps", "1"));
        Assert.Equal(1, code);
        Assert.Contains("--tau 1000 is out of range", message);
        (code, message) = Run(["customize", _cli.Latte, "--video", _cli.At("nowhere.mp4"), "--caption", caption, "--out", output]);
        Assert.Equal(1, code);
        Assert.Contains("video not found", message);
        (code, message) = Run(["customize", _cli.Latte, "--video", video, "--caption", caption, "--out", _cli.At("bad.pt")]);
        Assert.Equal(1, code);
        Assert.Contains(".safetensors", message);
        (code, message) = Run(Customize("--rank", "0", "--steps", "0"));
        Assert.Equal(1, code);
        Assert.Contains("--rank must be positive", message);
        Assert.Contains("--steps must be positive", message);
        Assert.NotEqual(0, Run(Customize("--lora-mode", "sideways")).Code);
        (code, message) = Run(Customize("--steps", "1", "--frames", "4", "--height", "30", "--width", "30"));
        Assert.Equal(1, code);
        Assert.Contains("multiples of 4", message);
        Assert.False(File.Exists(output));

        (code, message) = Run(Generate(_cli.Latte, _cli.At("x.avi")));
        Assert.Equal(1, code);
        Assert.Contains(".mp4, .gif", message);
        (code, message) = Run(Generate(_cli.Latte, _cli.At("x.mp4"), "--lora", _cli.At("missing.safetensors")));
        Assert.Equal(1, code);
        Assert.Contains("not found", message);
        (code, message) = Run(Generate(_cli.Latte, _cli.At("x.mp4"), "--tau", "500"));
        Assert.Equal(1, code);
        Assert.Contains("--tau needs --lora", message);
        (code, message) = Run(Generate(_cli.At("no-pipeline"), _cli.At("x.mp4")));
        Assert.Equal(1, code);
        Assert.False(File.Exists(_cli.At("x.mp4")));
    }
}
