using MotionTune.Probe;
using MotionTune.Reports;
using MotionTune.ShapesWorld;
using Xunit.Abstractions;

namespace MotionTune.Tests.Cli;

/// <summary><c>motiontune probe run</c> on the tiny Latte pipeline (interval 500: three windows, three DDIM steps).</summary>
[Collection(CliCollection.Name)]
public sealed class ProbeRunCommandTests(ITestOutputHelper log) : IDisposable
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

    private string[] Probe(string output, params string[] extra) =>
        ["probe", "run", _cli.Latte, "--out", output, "--interval", "500", "--steps", "3", .. CliHarness.TinyClip, .. extra];

    private static ProbeVideoResult Result(string output, string video) =>
        ProbeVideoResult.ReadJson(new ProbeResultStore(Path.Combine(output, "results"), new ProbeGrid(500)).PathFor(video), new ProbeGrid(500));

    [Fact]
    public void ADatasetRunGivesCompleteGridsAReportAndResumes()
    {
        var tasks = _cli.Tasks(2);
        var names = TaskSet.Read(tasks).Select(t => t.Name).ToArray();
        var output = _cli.At("probe");
        var (code, printed) = Run(Probe(output, "--tasks", tasks, "--scorer", "shapesworld"));
        Assert.Equal(0, code);
        Assert.Contains("2 video(s), 2 to probe", printed);
        foreach (var name in names)
        {
            var result = Result(output, name);
            Assert.Equal(new ProbeGrid(500).Cells, result.Cells.Select(c => c.Cell));
            Assert.Equal("shapesworld", result.Settings["scorer"]);
            Assert.Equal(TaskSet.Read(tasks).First(t => t.Name == name).Prompt("object"), result.EditedCaption);
        }
        var report = Path.Combine(output, "report");
        foreach (var file in new[] { ProbeReport.RecommendationName, ProbeReport.SummaryJsonName, ProbeReport.CellsCsvName,
                     ProbeReport.ClipHeatmapName + ".png", ProbeReport.ClipHeatmapName + ".svg", ProbeReport.FlowHeatmapName + ".png", ProbeReport.TradeOffName + ".svg" })
            Assert.True(File.Exists(Path.Combine(report, file)), $"{file} is missing from the report");

        // A second run finds every video done and redoes none.
        var first = new ProbeResultStore(Path.Combine(output, "results"), new ProbeGrid(500)).PathFor(names[0]);
        var written = File.GetLastWriteTimeUtc(first);
        (code, printed) = Run(Probe(output, "--tasks", tasks, "--scorer", "shapesworld"));
        Assert.Equal(0, code);
        Assert.Contains("2 video(s), 0 to probe", printed);
        Assert.Equal(written, File.GetLastWriteTimeUtc(first));

        // Shards split the dataset by index.
        var sharded = _cli.At("sharded");
        Assert.Equal(0, Run(Probe(sharded, "--tasks", tasks, "--scorer", "shapesworld", "--shard", "1/2")).Code);
        Assert.Equal([Path.GetFileName(new ProbeResultStore(Path.Combine(sharded, "results")).PathFor(names[1]))],
            Directory.GetFiles(Path.Combine(sharded, "results")).Select(Path.GetFileName));
    }

    [Fact]
    public void CachedAndUncachedRunsGiveIdenticalCells()
    {
        var video = _cli.ReferenceVideo(out var caption);
        string[] One(string output, params string[] extra) =>
            Probe(output, ["--video", video, "--caption", caption, "--edit", "a green square on a white background", "--clip", _cli.Clip(), .. extra]);

        Assert.Equal(0, Run(One(_cli.At("cached"), "--save-videos")).Code);
        Assert.Equal(0, Run(One(_cli.At("uncached"), "--no-cache")).Code);
        var name = Path.GetFileName(video);
        var cached = Result(_cli.At("cached"), name);
        var uncached = Result(_cli.At("uncached"), name);
        Assert.Equal("clip", cached.Settings["scorer"]);
        Assert.Equal(cached.BaseClipScore, uncached.BaseClipScore);
        Assert.Equal(cached.ReconstructionClipScore, uncached.ReconstructionClipScore);
        Assert.Equal(cached.Cells, uncached.Cells); // exact: the same latents decode to the same frames
        Assert.True(int.Parse(cached.Settings["denoising_steps"]) < int.Parse(uncached.Settings["denoising_steps"]));
        Assert.True(File.Exists(Path.Combine(_cli.At("cached"), "videos", name, "window_1000_0.mp4")));
        Assert.True(File.Exists(Path.Combine(_cli.At("cached"), "videos", name, "reconstruction.mp4")));
    }

    [Fact]
    public void BadOptionsGetClearErrors()
    {
        var tasks = _cli.Tasks(1);
        var output = _cli.At("bad");
        Assert.NotEqual(0, Run(Probe(output, "--tasks", tasks, "--scorer", "bogus")).Code);
        var (code, message) = Run(Probe(output, "--tasks", tasks, "--scorer", "shapesworld", "--shard", "3/2"));
        Assert.Equal(1, code);
        Assert.Contains("--shard '3/2'", message);
        (code, message) = Run(Probe(output, "--tasks", tasks));
        Assert.Equal(1, code);
        Assert.Contains("--scorer clip needs --clip", message);
        (code, message) = Run(["probe", "run", _cli.Latte, "--out", output, "--interval", "300", "--tasks", tasks, "--scorer", "shapesworld"]);
        Assert.Equal(1, code);
        Assert.Contains("divide", message);
        (code, message) = Run(Probe(output, "--video", _cli.At("missing.mp4"), "--caption", "a", "--edit", "b", "--scorer", "shapesworld"));
        Assert.Equal(1, code);
        Assert.Contains("video not found", message);
        (code, message) = Run(Probe(output, "--video", _cli.At("missing.mp4"), "--scorer", "shapesworld"));
        Assert.Equal(1, code);
        Assert.Contains("--caption", message);
        (code, message) = Run(Probe(output, "--dataset", Path.Combine(tasks, TaskSet.CsvName), "--scorer", "shapesworld"));
        Assert.Equal(1, code);
        Assert.Contains("--videos", message);
        Assert.False(Directory.Exists(Path.Combine(output, "report")));
    }
}
