using MotionTune.Evaluation;
using MotionTune.IO;

namespace MotionTune.Tests.Evaluation;

public sealed class EvaluationRecordTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    internal static EvaluationRecord Sample(string video, string kind, long seed, int tau = 700, string model = "Latte",
        double text = 30, double temporal = 97, double pick = 21, int index = 0, string variant = "") => new()
    {
        Model = model, Variant = variant, Tau = tau, Video = video, VideoIndex = index, PromptKind = kind,
        Prompt = $"{kind} prompt for {video}", Seed = seed, TextAlignment = text, TemporalConsistency = temporal, PickScore = pick,
    };

    [Fact]
    public void JsonlRoundTripKeepsEveryFieldIncludingExtrasAndNaN()
    {
        var record = Sample("gold-fish", EditKinds.Object, 3) with
        {
            Prompt = "Koi, in \"Van Gogh\" style — ünïcode",
            PickScore = null,
            Extra = new Dictionary<string, double> { ["flow_similarity"] = 0.81, ["leakage"] = double.NaN },
            Output = "samples/gold-fish/object_3.mp4",
            Seconds = 12.5,
        };
        var path = PathOf("r.jsonl");
        EvaluationJsonl.Append(path, record);
        EvaluationJsonl.Append(path, record with { Seed = 4 });
        var lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        Assert.Contains("\"prompt_kind\":\"object\"", lines[0]);
        Assert.Contains("\"leakage\":null", lines[0]);
        Assert.Contains("\"pick_score\":null", lines[0]);

        var back = EvaluationJsonl.Read(path);
        Assert.Equal([1, 2], back.Select(b => b.LineNumber));
        var first = back[0].Record;
        Assert.Equal(record.Key, first.Key);
        Assert.Equal(record.Prompt, first.Prompt);
        Assert.Equal(record.Output, first.Output);
        Assert.Equal(12.5, first.Seconds);
        Assert.Null(first.PickScore);
        Assert.Equal(0.81, first.Extra["flow_similarity"]);
        Assert.True(double.IsNaN(first.Extra["leakage"]));
        Assert.Equal(new HashSet<SampleKey> { record.Key, record.Key with { Seed = 4 } }, EvaluationJsonl.CompletedKeys(path));
        Assert.Empty(EvaluationJsonl.CompletedKeys(PathOf("absent.jsonl")));
    }

    [Fact]
    public void ATornLastLineIsIgnoredOnReadAndCutBeforeTheNextAppend()
    {
        var path = PathOf("r.jsonl");
        EvaluationJsonl.Append(path, Sample("a", EditKinds.Style, 1));
        var whole = File.ReadAllText(path);
        File.AppendAllText(path, whole[..(whole.Length / 2)]); // a crash in the middle of the second append

        Assert.Single(EvaluationJsonl.Read(path));
        using (var writer = EvaluationJsonl.Open(path)) writer.Append(Sample("a", EditKinds.Style, 2));
        var back = EvaluationJsonl.Read(path);
        Assert.Equal([1L, 2L], back.Select(b => b.Record.Seed));
        Assert.Equal(2, File.ReadAllLines(path).Length);

        // A complete record that only lacks its line end is kept, not cut.
        File.WriteAllText(path, File.ReadAllText(path).TrimEnd('\n'));
        EvaluationJsonl.Append(path, Sample("a", EditKinds.Style, 3));
        Assert.Equal([1L, 2L, 3L], EvaluationJsonl.Read(path).Select(b => b.Record.Seed));
    }

    [Fact]
    public void ABadLineInTheMiddleIsAnErrorWithItsLineNumber()
    {
        var path = PathOf("r.jsonl");
        EvaluationJsonl.Append(path, Sample("a", EditKinds.Style, 1));
        File.AppendAllText(path, "{not json\n");
        File.AppendAllText(path, "{\"model\":\"\",\"tau\":1,\"video\":\"v\",\"prompt_kind\":\"style\",\"prompt\":\"p\",\"seed\":1}\n");
        EvaluationJsonl.Append(path, Sample("a", EditKinds.Style, 2));
        var e = Assert.Throws<InvalidDataException>(() => EvaluationJsonl.Read(path));
        Assert.Contains("r.jsonl:2:", e.Message);
        Assert.Contains("r.jsonl:3: no model", e.Message);
        Assert.Contains("2 bad line(s)", e.Message);
    }

    [Fact]
    public void RecordsWithNonFiniteStandardMetricsAreRejected()
    {
        var e = Assert.Throws<InvalidDataException>(() => EvaluationJsonl.Append(PathOf("r.jsonl"), Sample("a", "style", 1, text: double.NaN)));
        Assert.Contains("text_alignment is NaN", e.Message);
        Assert.False(File.Exists(PathOf("r.jsonl")) && new FileInfo(PathOf("r.jsonl")).Length > 0);
    }

    [Fact]
    public void MergeCombinesShardsAndFindsDuplicatesMissingAndUnexpected()
    {
        var videos = new[] { "v0", "v1", "v2", "v3" };
        var kinds = new[] { EditKinds.Style, EditKinds.Object };
        var seeds = new long[] { 0, 1 };
        var shard0 = PathOf("shard0/results.jsonl");
        var shard1 = PathOf("shard1/results.jsonl");
        for (int i = 0; i < videos.Length; i++)
        {
            var shard = i % 2 == 0 ? shard0 : shard1;
            foreach (var k in kinds)
                foreach (var s in seeds)
                {
                    if (videos[i] == "v3") continue;                       // shard 1 died before v3
                    if (videos[i] == "v1" && k == EditKinds.Object && s == 1) continue; // and before this sample
                    EvaluationJsonl.Append(shard, Sample(videos[i], k, s, index: i) with { Output = $"media/{videos[i]}_{k}_{s}.mp4" });
                }
        }
        EvaluationJsonl.Append(shard1, Sample("v0", EditKinds.Style, 0, index: 0)); // v0 also in shard 1: overlap
        EvaluationJsonl.Append(shard1, Sample("stray", EditKinds.Style, 0, index: 9));

        var expectation = new MergeExpectation(videos, kinds, seeds);
        var result = ShardMerge.Merge([shard0, shard1], expectation);
        Assert.False(result.IsComplete);
        var duplicate = Assert.Single(result.Duplicates);
        Assert.Equal(new SampleKey("Latte", "", 700, "v0", EditKinds.Style, 0), duplicate.Key);
        Assert.Equal([$"{shard0}:1", $"{shard1}:4"], duplicate.Locations);
        Assert.Equal(["v3"], result.MissingVideos);
        Assert.Equal([new SampleKey("Latte", "", 700, "v1", EditKinds.Object, 1)], result.MissingSamples);
        Assert.Equal(["stray"], result.UnexpectedVideos);
        Assert.Equal(4 + 3 + 4 + 1, result.Records.Count);
        var e = Assert.Throws<InvalidDataException>(() => result.EnsureComplete());
        Assert.Contains("1 duplicated sample(s)", e.Message);
        Assert.Contains("v3", e.Message);

        // Outputs are re-based on the merged file's folder.
        var merged = PathOf("merged/all.jsonl");
        ShardMerge.Write(merged, result.Records);
        var back = EvaluationJsonl.Read(merged).Select(b => b.Record).ToArray();
        Assert.Equal(result.Records.Select(r => r.Key), back.Select(r => r.Key));
        var v2 = back.First(r => r.Video == "v2");
        Assert.Equal(Path.Combine("..", "shard0", "media", "v2_style_0.mp4"), v2.Output);

        var clean = ShardMerge.Merge([shard0], new MergeExpectation(["v0", "v2"], kinds, seeds));
        Assert.True(clean.IsComplete, clean.Describe());
    }

    [Fact]
    public void SummaryAveragesOverSamplesPerSettingAndKind()
    {
        var records = new List<EvaluationRecord>
        {
            // ModelScope τ = 700: style 20, 22; object 30 → overall mean 24
            Sample("v0", EditKinds.Style, 0, 700, "ModelScope", text: 20, temporal: 90, pick: 19),
            Sample("v1", EditKinds.Style, 0, 700, "ModelScope", text: 22, temporal: 92, pick: 21),
            Sample("v0", EditKinds.Object, 0, 700, "ModelScope", text: 30, temporal: 94, pick: 20),
            // ModelScope τ = 1000 (base): lower text alignment, higher pick score
            Sample("v0", EditKinds.Style, 0, 1000, "ModelScope", text: 10, temporal: 80, pick: 25),
            Sample("v0", EditKinds.Object, 0, 1000, "ModelScope", text: 12, temporal: 82, pick: 25) with { PickScore = null },
            // Latte with an extra metric
            Sample("v0", EditKinds.Style, 0, 0, "Latte", text: 31) with { Extra = new Dictionary<string, double> { ["leakage"] = 0.25 } },
        };
        var summary = EvaluationSummary.From(records);
        Assert.Equal([MetricNames.TextAlignment, MetricNames.TemporalConsistency, MetricNames.PickScore, "leakage"], summary.MetricNames);
        Assert.Equal([("Latte", 0), ("ModelScope", 1000), ("ModelScope", 700)], summary.Overall.Select(r => (r.Model, r.Tau)));

        var ms700 = summary.Overall.Single(r => r.Model == "ModelScope" && r.Tau == 700);
        Assert.Equal(3, ms700.Samples);
        Assert.Equal(2, ms700.Videos);
        Assert.Equal(24, ms700.Metrics[MetricNames.TextAlignment].Mean, 12);
        Assert.Equal(Math.Sqrt(28.0 / 3), ms700.Metrics[MetricNames.TextAlignment].StandardError, 12); // s² = (16+4+36)/2 = 28
        Assert.Equal(92, ms700.Metrics[MetricNames.TemporalConsistency].Mean, 12);
        Assert.Equal(0, ms700.Metrics["leakage"].Count);

        var style = summary.Rows.Single(r => r.Model == "ModelScope" && r.Tau == 700 && r.PromptKind == EditKinds.Style);
        Assert.Equal(21, style.Metrics[MetricNames.TextAlignment].Mean, 12);
        var ms1000 = summary.Overall.Single(r => r.Tau == 1000);
        Assert.Equal(25, ms1000.Metrics[MetricNames.PickScore].Mean, 12);
        Assert.Equal(1, ms1000.Metrics[MetricNames.PickScore].Count); // the null pick score is left out

        var markdown = summary.ToMarkdown();
        Assert.Contains("| Base Model | τ | Text Align. ↑ | Temp. Const. ↑ | Pick Score ↑ | leakage | Samples |", markdown);
        Assert.Contains("| ModelScope | 1000 | 11.00 | 81.00 | **25.00** | – | 2 |", markdown);
        Assert.Contains("|  | 700 | **24.00** | **92.00** | 20.00 | – | 3 |", markdown);
        Assert.Contains("| Latte | 0 | 31.00 | 97.00 | 21.00 | 0.250 | 1 |", markdown);
        Assert.Contains("Per edit kind:", markdown);
        Assert.Contains("| ModelScope | 700 | Style | 21.00 | 91.00 | 20.00 | – | 2 |", markdown);

        var comparison = summary.ToComparisonMarkdown();
        Assert.StartsWith("| Method | Text Align. ↑ | Temp. Const. ↑ | Pick Score ↑ | leakage | Samples |\n|---|---:|", comparison);
        Assert.Contains("| Latte (τ = 0) | **31.00** | **97.00** | 21.00 | 0.250 | 1 |", comparison);
        Assert.Contains("| ModelScope (τ = 1000) | 11.00 | 81.00 | **25.00** | – | 2 |", comparison);

        var csv = PathOf("summary.csv");
        summary.WriteCsv(csv);
        var rows = Csv.ReadFile(csv);
        Assert.Equal(["model", "variant", "tau", "prompt_kind", "samples", "videos", "text_alignment_mean", "text_alignment_se", "text_alignment_n"],
            rows[0].Fields.Take(9));
        var row = rows.Single(r => r[0] == "ModelScope" && r[2] == "700" && r[3] == "all");
        Assert.Equal(24, Csv.ParseNumber(row[6], "test"), 12);
        Assert.Equal(summary.Rows.Count + 1, rows.Count);

        Assert.Throws<ArgumentException>(() => EvaluationSummary.From([records[0], records[0]]));
        Assert.Throws<ArgumentException>(() => EvaluationSummary.From([]));
    }

    [Fact]
    public void SummaryShowsVariantsForTheAblationTables()
    {
        var records = new[]
        {
            Sample("v0", EditKinds.Style, 0, variant: "Q, K, V, O", text: 31.69),
            Sample("v0", EditKinds.Style, 0, variant: "V, O", text: 32.64),
        };
        var markdown = EvaluationSummary.From(records).ToMarkdown();
        Assert.Contains("| Base Model | Variant | τ |", markdown);
        Assert.Contains("| Latte | Q, K, V, O | 700 | 31.69 |", markdown);
        Assert.Contains("|  | V, O | 700 | **32.64** |", markdown);
        var model = EvaluationSummary.From([records[0] with { Model = "a|b" }]).ToMarkdown();
        Assert.Contains("a\\|b", model);
    }
}
