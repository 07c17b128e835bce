using MotionTune.Probe;

namespace MotionTune.Tests.Probe;

public sealed class ProbeDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-probe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DefaultGridHasTheFiftyFiveValidWindows()
    {
        var grid = ProbeGrid.Default;
        var cells = grid.Cells;
        Assert.Equal(55, cells.Count);
        Assert.Equal(55, grid.CellCount);
        Assert.All(cells, c => Assert.True(c.TauStart > c.TauEnd && c.TauEnd >= 0 && c.TauStart <= 1000 && c.TauStart % 100 == 0 && c.TauEnd % 100 == 0));
        Assert.Equal(cells.Count, cells.Distinct().Count());
        Assert.Contains(new ProbeCell(700, 0), cells);   // the paper's Figure 1 window
        Assert.Contains(new ProbeCell(1000, 0), cells);  // c′ throughout: x′0
        Assert.Contains(new ProbeCell(1000, 900), cells);
        Assert.Contains(new ProbeCell(100, 0), cells);
        Assert.DoesNotContain(new ProbeCell(500, 500), cells);
        Assert.Equal(Enumerable.Range(1, 10).Select(k => k * 100), grid.TauStarts);
        Assert.Equal(Enumerable.Range(0, 10).Select(k => k * 100), grid.TauEnds);
        Assert.Equal(grid.TauStarts, grid.TradeOffRow.Select(c => c.TauStart));
        // Every pair of bounds with start > end, and nothing else.
        var brute = grid.Bounds.SelectMany(s => grid.Bounds.Where(e => e < s).Select(e => new ProbeCell(s, e))).ToHashSet();
        Assert.True(brute.SetEquals(cells));
    }

    [Theory]
    [InlineData(250, 1000, 10)]
    [InlineData(50, 1000, 210)]
    [InlineData(1000, 1000, 1)]
    public void GridSizeIsTriangular(int interval, int max, int expected)
    {
        var grid = new ProbeGrid(interval, max);
        Assert.Equal(expected, grid.Cells.Count);
        Assert.Equal(expected, grid.CellCount);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-100)]
    [InlineData(300)]
    [InlineData(2000)]
    public void GridRejectsIntervalsThatDoNotDivideTheRange(int interval)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ProbeGrid(interval));
        Assert.Contains("interval", e.Message);
    }

    [Fact]
    public void ValidationNamesMissingForeignAndInconsistentCells()
    {
        var good = SyntheticProbe.Video("v", 1);
        Assert.Empty(good.Problems(ProbeGrid.Default));

        var missing = good with { Cells = good.Cells.Skip(1).ToArray() };
        Assert.Contains(missing.Problems(), p => p.Contains("1 of 55 cells missing") && p.Contains("100→0"));

        var foreign = good with { Cells = [.. good.Cells, new ProbeCellResult(550, 0, 1, 1 - good.BaseClipScore, 0.5)] };
        Assert.Contains(foreign.Problems(), p => p.Contains("550→0") && p.Contains("not on the grid"));

        var repeated = good with { Cells = [.. good.Cells, good.Cells[3]] };
        Assert.Contains(repeated.Problems(), p => p.Contains("twice"));

        var wrongChange = good with { Cells = [good.Cells[0] with { ClipScoreChange = 99 }, .. good.Cells.Skip(1)] };
        Assert.Contains(wrongChange.Problems(), p => p.Contains("is not score"));

        var nanFlow = good with { Cells = [good.Cells[0] with { FlowSimilarity = double.NaN }, .. good.Cells.Skip(1)] };
        Assert.Empty(nanFlow.Problems()); // an untrackable video is a result, not an error

        Assert.Contains(good.Problems(new ProbeGrid(250)), p => p.Contains("expected interval 250"));
        var e = Assert.Throws<InvalidDataException>(() => missing.Validate());
        Assert.Contains("'v'", e.Message);
    }

    [Fact]
    public void JsonRoundTripKeepsEveryFieldAndNaNAsNull()
    {
        var original = SyntheticProbe.Video("bear \"big\", brown", 7);
        original = original with { Cells = [original.Cells[0] with { FlowSimilarity = double.NaN }, .. original.Cells.Skip(1)] };
        var path = Path.Combine(_dir, "r.json");
        original.WriteJson(path);
        var text = File.ReadAllText(path);
        Assert.Contains("\"flow_similarity\": null", text);
        Assert.Contains("\"edited_caption\"", text);
        Assert.Contains("\"base_clip_score\"", text);

        var back = ProbeVideoResult.ReadJson(path);
        AssertSame(original, back);
        Assert.Equal(original.Settings, back.Settings);
        Assert.Equal(0.97, back.ReconstructionFlowSimilarity);
        Assert.Null(back.ReconstructionClipScore);
    }

    [Fact]
    public void CsvRoundTripKeepsEveryVideoAndCell()
    {
        var results = SyntheticProbe.Dataset(3);
        results = [results[0] with { Caption = "a \"quoted\", comma\nand newline caption" }, .. results.Skip(1)];
        var path = Path.Combine(_dir, "videos.csv");
        ProbeCsv.WriteVideos(path, results);
        var back = ProbeCsv.ReadVideos(path);
        Assert.Equal(results.Count, back.Count);
        foreach (var (a, b) in results.Zip(back)) AssertSame(a, b);
    }

    [Fact]
    public void CsvReaderRejectsAMissingColumnAndABadNumberWithItsLine()
    {
        var path = Path.Combine(_dir, "videos.csv");
        ProbeCsv.WriteVideos(path, SyntheticProbe.Dataset(1));
        var lines = File.ReadAllLines(path);
        lines[3] = lines[3].Replace(lines[3].Split(',')[^1], "oops");
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<InvalidDataException>(() => ProbeCsv.ReadVideos(path));
        Assert.Contains(":4 column flow_similarity", e.Message);

        File.WriteAllText(path, "video,caption\nx,y\n");
        e = Assert.Throws<InvalidDataException>(() => ProbeCsv.ReadVideos(path));
        Assert.Contains("missing column", e.Message);
    }

    [Fact]
    public void AggregationGivesMeanAndStandardErrorPerCell()
    {
        var grid = new ProbeGrid(500, 1000); // cells (500,0), (1000,0), (1000,500)
        ProbeVideoResult Make(string name, double baseScore, double[] clip, double[] flow) => new()
        {
            Video = name, Caption = "c", EditedCaption = "c'", Interval = 500, MaxTimestep = 1000, BaseClipScore = baseScore,
            Cells = grid.Cells.Select((cell, i) => ProbeCellResult.From(cell, clip[i], baseScore, flow[i])).ToArray(),
        };
        var results = new[]
        {
            Make("a", 20, [21, 24, 22], [0.9, 0.2, 0.5]),
            Make("b", 22, [24, 28, 23], [0.7, 0.4, double.NaN]),
            Make("c", 21, [23, 27, 24], [0.8, 0.3, 0.7]),
        };
        var summary = ProbeSummary.Aggregate(results);
        Assert.Equal(["a", "b", "c"], summary.Videos);
        Assert.Equal(21, summary.BaseClipScore.Mean, 12);

        var first = summary.Find(new ProbeCell(500, 0))!;
        // changes 1, 2, 2: mean 5/3, sample sd sqrt(1/3), s.e. sqrt(1/9)
        Assert.Equal(5.0 / 3, first.ClipScoreChange.Mean, 12);
        Assert.Equal(1.0 / 3, first.ClipScoreChange.StandardError, 12);
        Assert.Equal(3, first.ClipScoreChange.Count);
        Assert.Equal(0.8, first.FlowSimilarity.Mean, 12);
        Assert.Equal(Math.Sqrt(0.01 / 3), first.FlowSimilarity.StandardError, 12);

        var last = summary.Find(new ProbeCell(1000, 500))!;
        Assert.Equal(2, last.FlowSimilarity.Count); // NaN left out
        Assert.Equal(0.6, last.FlowSimilarity.Mean, 12);
        Assert.Equal(0.1, last.FlowSimilarity.StandardError, 12);

        var one = ProbeSummary.Aggregate(results.Take(1));
        Assert.True(double.IsNaN(one.Cells[0].ClipScoreChange.StandardError));

        Assert.Throws<ArgumentException>(() => ProbeSummary.Aggregate([results[0], results[0]]));
        Assert.Throws<ArgumentException>(() => ProbeSummary.Aggregate([results[0], SyntheticProbe.Video("d", 1)]));
        Assert.Throws<ArgumentException>(() => ProbeSummary.Aggregate([]));
        var e = Assert.Throws<ArgumentException>(() => ProbeSummary.Aggregate([results[0], results[1] with { Model = "Latte" }, results[2] with { Model = "CogVideoX" }]));
        Assert.Contains("different models", e.Message);
    }

    [Fact]
    public void SummaryJsonAndCellCsvRoundTrip()
    {
        var summary = ProbeSummary.Aggregate(SyntheticProbe.Dataset(4));
        var json = Path.Combine(_dir, "s.json");
        summary.WriteJson(json);
        var back = ProbeSummary.ReadJson(json);
        Assert.Equal(summary.Videos, back.Videos);
        Assert.Equal(summary.Recommendation.Tau, back.Recommendation.Tau);
        Assert.Equal(summary.Recommendation.Rule, back.Recommendation.Rule);
        Assert.Equal(summary.Recommendation.Curve, back.Recommendation.Curve);
        Assert.Equal(summary.Cells, back.Cells);
        Assert.Contains("\"rule\":", File.ReadAllText(json));

        var csv = Path.Combine(_dir, "cells.csv");
        ProbeCsv.WriteCells(csv, summary);
        Assert.Equal(summary.Cells, ProbeCsv.ReadCells(csv));
    }

    [Fact]
    public void StoreSkipsCompleteVideosAndRedoesCorruptOrStaleOnes()
    {
        var store = new ProbeResultStore(Path.Combine(_dir, "results"));
        var results = SyntheticProbe.Dataset(4);
        var jobs = results.Select(r => new ProbeJob(r.Video, r.Caption, r.EditedCaption)).ToArray();
        Assert.Equal(jobs, store.Pending(jobs));

        foreach (var r in results.Take(3)) store.Save(r);
        Assert.Equal([jobs[3]], store.Pending(jobs));
        Assert.Equal(ProbeResultState.Complete, store.Check(jobs[0]).State);

        // A crash mid-write of a non-atomic copy: truncated JSON.
        var path1 = store.PathFor(jobs[1].Video);
        var text = File.ReadAllText(path1);
        File.WriteAllText(path1, text[..(text.Length / 2)]);
        // A complete file that misses cells.
        var path2 = store.PathFor(jobs[2].Video);
        File.WriteAllText(path2, File.ReadAllText(path2).Replace("\"tau_start\": 1000", "\"tau_start\": 1100"));
        var warnings = new List<string>();
        var sink = MotionTune.Log.Sink;
        try
        {
            MotionTune.Log.Sink = (_, m) => { lock (warnings) warnings.Add(m); };
            Assert.Equal([jobs[1], jobs[2], jobs[3]], store.Pending(jobs));
        }
        finally { MotionTune.Log.Sink = sink; }
        Assert.Equal(ProbeResultState.Corrupt, store.Check(jobs[1]).State);
        Assert.Equal(ProbeResultState.Corrupt, store.Check(jobs[2]).State);
        Assert.Contains(warnings, w => w.Contains(jobs[1].Video));

        // Other captions than the stored ones: stale.
        Assert.Equal(ProbeResultState.Stale, store.Check(jobs[0] with { EditedCaption = "a horse" }).State);

        // Redo: saving replaces the corrupt file; LoadAll lists what it skipped.
        store.Save(results[1]);
        Assert.Equal([jobs[2], jobs[3]], store.Pending(jobs));
        var (loaded, skipped) = store.LoadAll();
        Assert.Equal([results[0].Video, results[1].Video], loaded.Select(r => r.Video));
        Assert.Single(skipped);
        Assert.DoesNotContain(Directory.EnumerateFiles(store.Folder), f => Path.GetFileName(f).StartsWith('.'));
    }

    [Fact]
    public void StoreFileNamesAreSafeAndDistinct()
    {
        var store = new ProbeResultStore(_dir);
        var a = store.PathFor("a/b");
        var b = store.PathFor("a_b");
        Assert.NotEqual(a, b);
        Assert.Equal(_dir, Path.GetDirectoryName(a));
        Assert.Equal(Path.Combine(_dir, "gold-fish.probe.json"), store.PathFor("gold-fish"));
        Assert.Equal(_dir, Path.GetDirectoryName(store.PathFor("../../etc")));
    }

    private static void AssertSame(ProbeVideoResult expected, ProbeVideoResult actual)
    {
        Assert.Equal(expected.Video, actual.Video);
        Assert.Equal(expected.Caption, actual.Caption);
        Assert.Equal(expected.EditedCaption, actual.EditedCaption);
        Assert.Equal(expected.Model, actual.Model);
        Assert.Equal(expected.Interval, actual.Interval);
        Assert.Equal(expected.MaxTimestep, actual.MaxTimestep);
        Assert.Equal(expected.BaseClipScore, actual.BaseClipScore);
        Assert.Equal(expected.ReconstructionClipScore, actual.ReconstructionClipScore);
        Assert.Equal(expected.ReconstructionFlowSimilarity, actual.ReconstructionFlowSimilarity);
        Assert.Equal(expected.Cells, actual.Cells);
    }
}
