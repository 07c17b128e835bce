using MotionTune.Evaluation;
using MotionTune.ShapesWorld;
using Xunit.Abstractions;

namespace MotionTune.Tests.Cli;

/// <summary><c>motiontune eval run</c> on the tiny Latte pipeline over two-video ShapesWorld task sets (TGVE format).</summary>
[Collection(CliCollection.Name)]
public sealed class EvalRunCommandTests(ITestOutputHelper log) : IDisposable
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

    private string[] Eval(string output, params string[] extra) =>
        ["eval", "run", _cli.Latte, "--out", output, "--sample-steps", "2", "--guidance", "3", "--steps", "2", "--lr", "0.01", .. CliHarness.TinyClip, .. extra];

    [Fact]
    public void WritesEveryPromptAndSeedWithTheShapesWorldMetricsThenResumes()
    {
        var tasks = _cli.Tasks(2);
        var names = TaskSet.Read(tasks).Select(t => t.Name).ToArray();
        var output = _cli.At("eval");
        string[] args = Eval(output, "--tasks", tasks, "--scorer", "shapesworld", "--clip", _cli.Clip(), "--tau", "500", "--seeds", "2", "--sample-format", "png");
        var (code, printed) = Run(args);
        Assert.Equal(0, code);
        Assert.Contains("16 sample(s) written", printed);

        var jsonl = Path.Combine(output, "eval.jsonl");
        var records = EvaluationJsonl.Read(jsonl).Select(r => r.Record).ToArray();
        Assert.Equal(16, records.Length);
        Assert.Equal(16, records.Select(r => r.Key).Distinct().Count());
        Assert.Equal(names.Order(), records.Select(r => r.Video).Distinct().Order());
        Assert.All(records, r =>
        {
            Assert.Equal(500, r.Tau);
            Assert.Equal("latte", r.Model);
            Assert.NotNull(r.TextAlignment);
            Assert.NotNull(r.TemporalConsistency);
            Assert.Null(r.PickScore);
            foreach (var metric in new[] { "alignment_all", "leakage", "displacement_cosine", EvaluationRunner.MotionDiversityMetric })
                Assert.True(r.Extra.ContainsKey(metric), $"{r.Key} lacks {metric}");
            Assert.True(Path.Exists(Path.Combine(output, r.Output!)), $"{r.Output} was not written");
        });
        foreach (var name in names)
        {
            Assert.True(File.Exists(Path.Combine(output, "customizations", name + ".safetensors")));
            Assert.False(Directory.Exists(Path.Combine(output, "checkpoints", name)), "checkpoints go once the customization is saved");
        }

        // Resuming: nothing left to do.
        (code, printed) = Run(args);
        Assert.Equal(0, code);
        Assert.Contains("0 sample(s) written, 16 already there", printed);

        // Starting the records over reuses the saved customizations and reproduces every number.
        var customization = Path.Combine(output, "customizations", names[0] + ".safetensors");
        var saved = File.GetLastWriteTimeUtc(customization);
        File.Delete(jsonl);
        Assert.Equal(0, Run(args).Code);
        Assert.Equal(saved, File.GetLastWriteTimeUtc(customization));
        var again = EvaluationJsonl.Read(jsonl).Select(r => r.Record).ToDictionary(r => r.Key);
        foreach (var r in records)
        {
            Assert.Equal(r.TextAlignment, again[r.Key].TextAlignment);
            Assert.Equal(r.Extra, again[r.Key].Extra);
        }

        Assert.Equal(0, Run("eval", "summarize", jsonl, "--out", _cli.At("summary")).Code);
        Assert.Contains("alignment_all", File.ReadAllText(Path.Combine(_cli.At("summary"), "summary.md")));
    }

    [Fact]
    public void ShardsSplitTheVideosAndMergeIntoTheWholeDataset()
    {
        var tasks = _cli.Tasks(2);
        var csv = Path.Combine(tasks, TaskSet.CsvName);
        var videos = Path.Combine(tasks, TaskSet.FramesFolder);
        var output = _cli.At("eval");
        var shards = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            var (code, printed) = Run(Eval(output, "--dataset", csv, "--videos", videos, "--clip", _cli.Clip(), "--tau", "1000", "--seeds", "2",
                "--edits", "object,style", "--shard", $"{i}/2", "--sample-format", "gif"));
            Assert.Equal(0, code);
            Assert.Contains("untuned base model", printed);
            var path = Path.Combine(output, $"eval.shard-{i}-of-2.jsonl");
            var records = EvaluationJsonl.Read(path).Select(r => r.Record).ToArray();
            Assert.Equal(4, records.Length);
            Assert.All(records, r => Assert.Equal(i, r.VideoIndex));
            shards.Add(path);
        }
        Assert.False(Directory.Exists(Path.Combine(output, "customizations")), "tau = T trains nothing");
        var merged = _cli.At("merged.jsonl");
        Assert.Equal(0, Run(["eval", "merge", .. shards, "--out", merged, "--csv", csv, "--videos", videos, "--kinds", "object,style", "--seeds", "0,1"]).Code);
        Assert.Equal(8, EvaluationJsonl.Read(merged).Count);
    }

    [Fact]
    public void MissingVideosMalformedCsvsAndBadOptionsGetClearErrors()
    {
        var tasks = _cli.Tasks(2);
        var names = TaskSet.Read(tasks).Select(t => t.Name).ToArray();
        var csv = Path.Combine(tasks, TaskSet.CsvName);
        var videos = Path.Combine(tasks, TaskSet.FramesFolder);
        var output = _cli.At("eval");
        string[] Base(params string[] extra) => Eval(output, ["--dataset", csv, "--videos", videos, "--clip", _cli.Clip(), "--tau", "1000", "--edits", "object", .. extra]);

        Directory.Delete(Path.Combine(videos, names[1]), recursive: true);
        var (code, message) = Run(Base());
        Assert.Equal(1, code);
        Assert.Contains($"'{names[1]}'", message);
        Assert.Contains("--skip-missing", message);
        (code, message) = Run(Base("--skip-missing"));
        Assert.Equal(0, code);
        Assert.Contains("1 sample(s) written", message);

        var bad = _cli.At("bad.csv");
        File.WriteAllText(bad, File.ReadAllText(csv) + "broken,\"an unterminated caption\n");
        (code, message) = Run(Eval(output, "--dataset", bad, "--videos", videos, "--clip", _cli.Clip(), "--tau", "1000"));
        Assert.Equal(1, code);
        Assert.Contains("line 4: a quoted field opened on line 4 is never closed", message);
        Assert.Contains("--skip-malformed", message);
        Assert.Equal(0, Run(Base("--skip-missing", "--skip-malformed")).Code);

        Assert.NotEqual(0, Run(Base("--scorer", "bogus")).Code);
        (code, message) = Run(Eval(output, "--dataset", csv, "--videos", videos, "--clip", _cli.Clip(), "--tau", "1001"));
        Assert.Equal(1, code);
        Assert.Contains("--tau 1001 is out of range", message);
        (code, message) = Run(Base("--shard", "3/2"));
        Assert.Equal(1, code);
        Assert.Contains("--shard '3/2'", message);
        (code, message) = Run(Eval(output, "--dataset", csv, "--videos", videos, "--clip", _cli.Clip(), "--edits", "object,colour"));
        Assert.Equal(1, code);
        Assert.Contains("'colour' is not one of", message);
        (code, message) = Run(Eval(output, "--dataset", csv, "--videos", videos, "--scorer", "shapesworld"));
        Assert.Equal(1, code);
        Assert.Contains("--scorer shapesworld needs --tasks", message);
        (code, message) = Run(Eval(output, "--dataset", csv, "--videos", videos, "--clip", _cli.At("no-clip")));
        Assert.Equal(1, code);
        Assert.Contains("folder not found", message);
        (code, message) = Run(Eval(output, "--dataset", csv, "--videos", videos, "--clip", _cli.Clip(), "--rank", "0"));
        Assert.Equal(1, code);
        Assert.Contains("--rank must be positive", message);
    }
}
