using System.CommandLine;
using MotionTune.Cli.Commands;
using MotionTune.Evaluation;
using MotionTune.Probe;
using MotionTune.Tests.Evaluation;
using MotionTune.Tests.Probe;

namespace MotionTune.Tests.Reports;

public sealed class ReportCommandsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-cli-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Run(params string[] args)
    {
        var probe = new Command("probe") { ReportCommands.ProbeReport() };
        var eval = new Command("eval") { ReportCommands.EvalMerge(), ReportCommands.EvalSummarize(), ReportCommands.EvalReport() };
        var root = new RootCommand { probe, eval };
        return root.Parse(args).Invoke();
    }

    private string At(string name) => Path.Combine(_dir, name);

    [Fact]
    public void ProbeReportWritesTheOutputsOfAResultsFolder()
    {
        var store = new ProbeResultStore(At("results"));
        foreach (var r in SyntheticProbe.Dataset(3)) store.Save(r);
        File.WriteAllText(Path.Combine(store.Folder, "broken.probe.json"), "{");
        Assert.Equal(0, Run("probe", "report", "--results", store.Folder, "--out", At("out")));
        Assert.True(File.Exists(Path.Combine(At("out"), "recommended_tau.txt")));
        Assert.Equal(3, ProbeSummary.ReadJson(Path.Combine(At("out"), "probe_summary.json")).Videos.Count);
        Assert.Equal(1, Run("probe", "report", "--results", At("absent"), "--out", At("out2")));
        Assert.False(Directory.Exists(At("absent")));
        Directory.CreateDirectory(At("empty"));
        Assert.Equal(1, Run("probe", "report", "--results", At("empty"), "--out", At("out2")));
    }

    [Fact]
    public void EvalMergeRefusesDuplicatesUnlessAllowedThenSummarizeAndReport()
    {
        var csv = At("tgve.csv");
        File.WriteAllText(csv,
            "Video name,Our GT caption,Style Change Caption,Object Change Caption,Background Change Caption,Multiple Changes Caption\n" +
            "v0,A.,B.,C.,D.,E.\nv1,A.,B.,C.,D.,E.\n");
        EvaluationJsonl.Append(At("s0.jsonl"), EvaluationRecordTests.Sample("v0", EditKinds.Style, 0));
        EvaluationJsonl.Append(At("s1.jsonl"), EvaluationRecordTests.Sample("v1", EditKinds.Style, 0, index: 1));
        EvaluationJsonl.Append(At("s1.jsonl"), EvaluationRecordTests.Sample("v0", EditKinds.Style, 0));

        var merged = At("merged.jsonl");
        Assert.Equal(1, Run("eval", "merge", At("s0.jsonl"), At("s1.jsonl"), "--out", merged, "--csv", csv, "--kinds", "style", "--seeds", "0"));
        Assert.False(File.Exists(merged));
        Assert.Equal(0, Run("eval", "merge", At("s0.jsonl"), At("s1.jsonl"), "--out", merged, "--csv", csv, "--kinds", "style", "--seeds", "0", "--allow-incomplete"));
        Assert.Equal(2, EvaluationJsonl.Read(merged).Count);

        Assert.Equal(0, Run("eval", "summarize", merged, "--out", At("summary")));
        Assert.Contains("| Latte | 700 | 30.00 |", File.ReadAllText(Path.Combine(At("summary"), "summary.md")));
        Assert.True(File.Exists(Path.Combine(At("summary"), "summary.csv")));

        Assert.Equal(0, Run("eval", "report", merged, "--out", At("report.html"), "--title", "T <1>"));
        Assert.Contains("<title>T &lt;1&gt;</title>", File.ReadAllText(At("report.html")));
    }
}
