using MotionTune.Demo;

namespace MotionTune.Tests.Cli;

/// <summary><c>motiontune demo --quick</c>: the README's main command, shortened, end to end on the bundled default model.</summary>
[Collection(CliCollection.Name)]
public sealed class DemoCommandTests
{
    [Fact]
    public void QuickDemoWritesTheReportGifsAndProbeFigures()
    {
        using var cli = new CliHarness();
        var output = cli.At("demo");
        var (code, printed) = CliHarness.Run("demo", "--quick", "--out", output);
        Assert.True(code == 0, printed);
        Assert.Contains("report.html", printed);

        var report = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.True(File.Exists(Path.Combine(output, "reference.gif")));
        // Two edits for the customization at the probe's τ and two for the τ = 0 baseline (one pair if the probe picked 0).
        var gifs = Directory.GetFiles(output, "*_tau*.gif");
        Assert.True(gifs.Length is 2 or 4, $"{gifs.Length} edited GIFs");
        foreach (var gif in gifs)
        {
            Assert.True(new FileInfo(gif).Length > 0, gif);
            Assert.Contains(Path.GetFileName(gif), report);
        }
        Assert.Contains("Timestep probe", report);
        Assert.True(File.Exists(Path.Combine(output, "probe", "report", "clip_heatmap.png")) ||
                    Directory.GetFiles(Path.Combine(output, "probe", "report"), "*.png").Length >= 3);
        // Every table row carries measured values (numbers or n/a), never an empty cell.
        Assert.DoesNotContain("<td></td>", report);
    }

    [Fact]
    public void UnknownModelIsAClearError()
    {
        using var cli = new CliHarness();
        var (code, printed) = CliHarness.Run("demo", "--quick", "--model", cli.At("nowhere"), "--out", cli.At("demo"));
        Assert.Equal(1, code);
        Assert.Contains("--model", printed);
        Assert.Contains(BundledModels.Default, printed);
        Assert.False(Directory.Exists(cli.At("demo")), "no output folder for a run that could not start");
    }
}
