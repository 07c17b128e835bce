using MotionTune.Probe;
using MotionTune.Reports;
using MotionTune.Tests.Probe;

namespace MotionTune.Tests.Reports;

public sealed class ProbeReportTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-probe-report-").FullName;

    public void Dispose()
    {
        // MOTIONTUNE_KEEP_TEST_OUTPUT=1 keeps the figures for a look.
        if (Environment.GetEnvironmentVariable("MOTIONTUNE_KEEP_TEST_OUTPUT") != "1") Directory.Delete(_dir, recursive: true);
        else Console.Error.WriteLine($"probe report test output kept in {_dir}");
    }

    [Fact]
    public void WritesTablesFiguresAndTheRecommendation()
    {
        var results = SyntheticProbe.Dataset(6);
        var files = ProbeReport.Write(_dir, results);

        foreach (var plot in new[] { files.ClipHeatmap, files.FlowHeatmap, files.TradeOff })
        {
            var png = File.ReadAllBytes(plot.Png);
            Assert.Equal(PngSignature, png[..8]);
            Assert.True(png.Length > 20_000, $"{plot.Png} is only {png.Length} bytes");
            var svg = File.ReadAllText(plot.Svg);
            Assert.Contains("<svg", svg[..200]);
            Assert.True(svg.Length > 5_000, $"{plot.Svg} is only {svg.Length} characters");
        }
        // The axis titles and the colour bar label reach the SVG as text.
        var heatmapSvg = File.ReadAllText(files.ClipHeatmap.Svg);
        Assert.Contains("τ_start", heatmapSvg);
        Assert.Contains("CLIP-score change", heatmapSvg);
        Assert.Contains($"recommended τ = {files.Summary.Recommendation.Tau}", File.ReadAllText(files.TradeOff.Svg));

        var text = File.ReadAllText(files.RecommendationText);
        Assert.StartsWith($"recommended tau: {files.Summary.Recommendation.Tau}\n", text);
        Assert.Contains(TauRecommendation.RuleText, text);

        Assert.Equal(results.Count, ProbeCsv.ReadVideos(files.VideosCsv).Count);
        Assert.Equal(55, ProbeCsv.ReadCells(files.CellsCsv).Count);
        Assert.Equal(files.Summary.Recommendation.Tau, ProbeSummary.ReadJson(files.SummaryJson).Recommendation.Tau);
        var tradeOff = File.ReadAllLines(files.TradeOffCsv);
        Assert.Equal(11, tradeOff.Length);
        Assert.Single(tradeOff, l => l.EndsWith(",true"));
        Assert.DoesNotContain(Directory.EnumerateFiles(_dir), f => Path.GetFileName(f).StartsWith('.'));
    }

    [Fact]
    public void PlotsACoarseGridWithMissingValues()
    {
        var grid = new ProbeGrid(250);
        var results = new[] { SyntheticProbe.Video("only", 1, grid) };
        var r = results[0];
        results[0] = r with { Cells = r.Cells.Select(c => c.TauStart == 1000 ? c with { FlowSimilarity = double.NaN } : c).ToArray() };
        var files = ProbeReport.Write(_dir, results);
        Assert.True(new FileInfo(files.FlowHeatmap.Png).Length > 10_000);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(files.FlowHeatmap.Svg), @">\s*n/a\s*<").Count); // the four τ_start = 1000 windows
        Assert.DoesNotContain("n/a", File.ReadAllText(files.ClipHeatmap.Svg));
        Assert.True(new FileInfo(files.TradeOff.Png).Length > 10_000);
    }
}
