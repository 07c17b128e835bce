using MotionTune.Evaluation;
using MotionTune.Reports;
using MotionTune.Runtime;
using MotionTune.Tests.Video;
using MotionTune.Video;
using MotionTune.Tests.Evaluation;
using MotionTune.Tests.Probe;

namespace MotionTune.Tests.Reports;

public sealed class HtmlReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-html-").FullName;

    public void Dispose()
    {
        // MOTIONTUNE_KEEP_TEST_OUTPUT=1 keeps the pages for a look.
        if (Environment.GetEnvironmentVariable("MOTIONTUNE_KEEP_TEST_OUTPUT") != "1") Directory.Delete(_dir, recursive: true);
    }

    private string Touch(string relative, byte[]? bytes = null)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes ?? [0x47, 0x49, 0x46, 0x38]);
        return path;
    }

    [Fact]
    public void WritesEscapedTextSummaryFiguresAndMediaSideBySide()
    {
        const string Evil = "<script>alert('x')</script> & \"quotes\"";
        var reference = Touch("videos/gold fish.mp4");
        Touch("run/samples/gold-fish_object_0.mp4");
        Touch("run/samples/gold-fish_object_1.gif");
        var records = new[]
        {
            EvaluationRecordTests.Sample("gold-fish", EditKinds.Object, 0) with { Prompt = Evil, Output = "samples/gold-fish_object_0.mp4" },
            EvaluationRecordTests.Sample("gold-fish", EditKinds.Object, 1, text: 28) with { Prompt = Evil, Output = "samples/gold-fish_object_1.gif" },
            EvaluationRecordTests.Sample("gold-fish", EditKinds.Style, 0) with { Output = "samples/never-written.mp4" },
        };
        var dataset = new TgveDataset
        {
            CsvPath = "x.csv", VideoFolder = _dir, MalformedRows = [], MissingVideos = [],
            Entries = [new TgveEntry(0, 3, "gold-fish", "Goldfish <swim> & play", new Dictionary<string, string>(), null, reference)],
        };
        var probe = ProbeReport.Write(Path.Combine(_dir, "probe"), SyntheticProbe.Dataset(2));
        var report = new HtmlReport
        {
            Title = "Eval <Latte>",
            Notes = ["command: motiontune eval --shard 0/1 && echo"],
            Summary = EvaluationSummary.From(records),
            Figures = [new ReportFigure(probe.ClipHeatmap.Png, "CLIP-score change"), new ReportFigure(probe.TradeOff.Svg, "trade-off"),
                new ReportFigure(Path.Combine(_dir, "absent.png"), "absent")],
            Videos = HtmlReport.VideosFrom(records, Path.Combine(_dir, "run"), dataset),
        };
        var htmlPath = report.Write(Path.Combine(_dir, "out", "report.html"));
        var html = File.ReadAllText(htmlPath);

        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.DoesNotContain("<script>", html);
        Assert.Contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;", html);
        Assert.Contains("<title>Eval &lt;Latte&gt;</title>", html);
        Assert.Contains("Goldfish &lt;swim&gt; &amp; play", html);
        Assert.Contains("motiontune eval --shard 0/1 &amp;&amp; echo", html);

        // Media: copied into report_media/ and referenced relatively; mp4 as <video>, gif and png as <img>.
        var media = HtmlReport.MediaFolderFor(htmlPath);
        Assert.Equal(Path.Combine(_dir, "out", "report_media"), media);
        Assert.Contains("<video src=\"report_media/gold_fish.mp4\"", html);
        Assert.Contains("<video src=\"report_media/gold-fish_object_0.mp4\"", html);
        Assert.Contains("<img src=\"report_media/gold-fish_object_1.gif\"", html);
        Assert.Contains("<img src=\"report_media/heatmap_clip_score_change.png\"", html);
        Assert.Contains("<img src=\"report_media/tradeoff_tau_end_0.svg\"", html);
        foreach (var name in new[] { "gold_fish.mp4", "gold-fish_object_0.mp4", "gold-fish_object_1.gif", "heatmap_clip_score_change.png", "tradeoff_tau_end_0.svg" })
            Assert.True(File.Exists(Path.Combine(media, name)), name);
        Assert.DoesNotContain("absent.png", html);
        Assert.Contains("cannot show never-written.mp4", html);

        // Summary and per-sample metrics.
        Assert.Contains("<th>Text Align. ↑</th>", html);
        Assert.Contains("<td class=\"num\">29.33<span class=\"se\">", html); // (30 + 28 + 30) / 3
        Assert.Contains("<td>Text Align.</td><td class=\"num\">28.00</td>", html);
        Assert.Contains("<b>Style</b>", html);
        Assert.True(html.IndexOf("<b>Style</b>") < html.IndexOf("<b>Object</b>"), "edit kinds in CSV order");
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_dir, "out")), f => Path.GetFileName(f).StartsWith('.'));
    }

    [Fact]
    public void MediaAlreadyInTheMediaFolderIsReferencedInPlace()
    {
        var htmlPath = Path.Combine(_dir, "r.html");
        var inPlace = Touch(Path.Combine("r_media", "demo.gif"), [1, 1, 1]);
        var elsewhere = Touch(Path.Combine("other", "demo.gif"), [2, 2]); // same name, listed first: must not overwrite
        var report = new HtmlReport
        {
            Videos = [new ReportVideo("demo", "a caption", elsewhere, [new ReportPrompt("custom", "a prompt", [new ReportSample("seed 0", inPlace, new Dictionary<string, double>())])])],
        };
        var html = File.ReadAllText(report.Write(htmlPath));
        Assert.Contains("<img src=\"r_media/demo.gif\" alt=\"seed 0\"", html);
        Assert.Contains("<img src=\"r_media/demo_2.gif\" alt=\"demo\"", html);
        Assert.Equal([1, 1, 1], File.ReadAllBytes(inPlace));
        Assert.Equal([2, 2], File.ReadAllBytes(Path.Combine(_dir, "r_media", "demo_2.gif")));
        Assert.Contains("<b>custom</b>", html);
    }

    [Fact]
    public void AFrameFolderReferenceIsConvertedToMp4()
    {
        TorchRuntime.Initialize();
        var frames = Path.Combine(_dir, "videos", "bear");
        using (var video = SyntheticVideo.GreyTexture(6, 32, 48, 1, 0)) VideoFile.WriteFrames(frames, video);
        var report = new HtmlReport { Videos = [new ReportVideo("bear", "A bear walks.", frames, [])] };
        var html = File.ReadAllText(report.Write(Path.Combine(_dir, "r.html")));
        Assert.Contains("<video src=\"r_media/bear.mp4\"", html);
        using var clip = VideoFile.Read(Path.Combine(_dir, "r_media", "bear.mp4"));
        Assert.Equal(6, clip.FrameCount);
        Assert.Equal(48, clip.Width);
    }
}
