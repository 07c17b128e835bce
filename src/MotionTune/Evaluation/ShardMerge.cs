using System.Text;
using System.Text.Json;
using MotionTune.IO;

namespace MotionTune.Evaluation;

/// <summary>What a complete evaluation holds: every video with every prompt kind and seed, for every model setting.</summary>
/// <param name="Videos">The dataset's videos (those the shards were given).</param>
/// <param name="PromptKinds">The prompt kinds sampled per video.</param>
/// <param name="Seeds">The seeds sampled per prompt.</param>
public sealed record MergeExpectation(IReadOnlyList<string> Videos, IReadOnlyList<string> PromptKinds, IReadOnlyList<long> Seeds);

/// <summary>A sample found more than once, with where.</summary>
/// <param name="Key">The sample.</param>
/// <param name="Locations">"file:line" of each occurrence, in merge order.</param>
public sealed record DuplicateSample(SampleKey Key, IReadOnlyList<string> Locations);

/// <summary>The outcome of <see cref="ShardMerge.Merge"/>.</summary>
public sealed record MergeResult
{
    /// <summary>
    /// One record per sample (for a duplicate, its last occurrence), by setting, video index, kind and seed; their
    /// <see cref="EvaluationRecord.Output"/> paths are absolute (<see cref="ShardMerge.Write"/> makes them relative again).
    /// </summary>
    public required IReadOnlyList<EvaluationRecord> Records { get; init; }

    /// <summary>Samples present in more than one line (a shard run twice, or overlapping shard specs).</summary>
    public required IReadOnlyList<DuplicateSample> Duplicates { get; init; }

    /// <summary>Expected videos without any record (a shard that failed or never ran).</summary>
    public required IReadOnlyList<string> MissingVideos { get; init; }

    /// <summary>Expected samples missing for videos that do have records, as readable keys.</summary>
    public required IReadOnlyList<SampleKey> MissingSamples { get; init; }

    /// <summary>Videos with records that the expectation does not list.</summary>
    public required IReadOnlyList<string> UnexpectedVideos { get; init; }

    /// <summary>True when nothing is duplicated, missing or unexpected.</summary>
    public bool IsComplete => Duplicates.Count == 0 && MissingVideos.Count == 0 && MissingSamples.Count == 0 && UnexpectedVideos.Count == 0;

    /// <summary>The problems in a few lines (at most 10 examples each).</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append($"{Records.Count} sample(s)");
        if (Duplicates.Count > 0)
            text.Append($"\n{Duplicates.Count} duplicated sample(s):").AppendJoin("", Duplicates.Take(10).Select(d => $"\n  {d.Key} at {string.Join(", ", d.Locations)}"));
        if (MissingVideos.Count > 0) text.Append($"\n{MissingVideos.Count} video(s) without any record: ").AppendJoin(", ", MissingVideos.Take(10));
        if (MissingSamples.Count > 0)
            text.Append($"\n{MissingSamples.Count} missing sample(s):").AppendJoin("", MissingSamples.Take(10).Select(k => $"\n  {k}"));
        if (UnexpectedVideos.Count > 0) text.Append($"\n{UnexpectedVideos.Count} video(s) not in the dataset: ").AppendJoin(", ", UnexpectedVideos.Take(10));
        return text.ToString();
    }

    /// <summary>Throws unless <see cref="IsComplete"/>.</summary>
    /// <exception cref="InvalidDataException">Something is duplicated, missing or unexpected; the message lists it.</exception>
    public MergeResult EnsureComplete() =>
        IsComplete ? this : throw new InvalidDataException("the shard results do not merge cleanly: " + Describe());
}

/// <summary>
/// Combines the JSONL files of a sharded evaluation (<see cref="ShardSpec"/>) into one, and checks the union: samples
/// that appear more than once, expected videos and samples that appear nowhere, and videos the dataset does not have.
/// </summary>
public static class ShardMerge
{
    /// <summary>Reads every file and checks the union against <paramref name="expectation"/> when given.</summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file has a bad line.</exception>
    public static MergeResult Merge(IEnumerable<string> files, MergeExpectation? expectation = null)
    {
        var byKey = new Dictionary<SampleKey, (EvaluationRecord Record, List<string> Locations)>();
        foreach (var file in files)
            foreach (var (read, line) in EvaluationJsonl.Read(file))
            {
                // Outputs are relative to their own file's folder; hold them absolute until Write re-relativises them.
                var record = read.Output is { Length: > 0 } output
                    ? read with { Output = Path.GetFullPath(output, Path.GetDirectoryName(Path.GetFullPath(file))!) }
                    : read;
                var location = $"{file}:{line}";
                if (byKey.TryGetValue(record.Key, out var seen)) byKey[record.Key] = (record, [.. seen.Locations, location]);
                else byKey[record.Key] = (record, [location]);
            }

        var records = byKey.Values.Select(v => v.Record)
            .OrderBy(r => r.Model, StringComparer.Ordinal).ThenBy(r => r.Variant, StringComparer.Ordinal).ThenByDescending(r => r.Tau)
            .ThenBy(r => r.VideoIndex).ThenBy(r => r.Video, StringComparer.Ordinal)
            .ThenBy(r => KindOrder(r.PromptKind)).ThenBy(r => r.PromptKind, StringComparer.Ordinal).ThenBy(r => r.Seed)
            .ToArray();
        var duplicates = byKey.Where(kv => kv.Value.Locations.Count > 1)
            .Select(kv => new DuplicateSample(kv.Key, kv.Value.Locations)).OrderBy(d => d.Key.ToString(), StringComparer.Ordinal).ToArray();

        string[] missingVideos = [], unexpected = [];
        var missingSamples = new List<SampleKey>();
        if (expectation is not null)
        {
            var present = records.Select(r => r.Video).ToHashSet(StringComparer.Ordinal);
            var expected = expectation.Videos.ToHashSet(StringComparer.Ordinal);
            missingVideos = expectation.Videos.Where(v => !present.Contains(v)).ToArray();
            unexpected = present.Where(v => !expected.Contains(v)).Order(StringComparer.Ordinal).ToArray();
            var settings = records.Select(r => (r.Model, r.Variant, r.Tau)).Distinct();
            foreach (var (model, variant, tau) in settings)
                foreach (var video in expectation.Videos.Where(present.Contains))
                    foreach (var kind in expectation.PromptKinds)
                        foreach (var seed in expectation.Seeds)
                        {
                            var key = new SampleKey(model, variant, tau, video, kind, seed);
                            if (!byKey.ContainsKey(key)) missingSamples.Add(key);
                        }
        }
        return new MergeResult
        {
            Records = records,
            Duplicates = duplicates,
            MissingVideos = missingVideos,
            MissingSamples = missingSamples,
            UnexpectedVideos = unexpected,
        };
    }

    /// <summary>Writes merged records as one JSONL file, atomically, with their outputs relative to its folder.</summary>
    public static void Write(string path, IEnumerable<EvaluationRecord> records)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        AtomicFile.Write(path, stream =>
        {
            foreach (var merged in records)
            {
                var record = merged.Output is { Length: > 0 } output && Path.IsPathRooted(output)
                    ? merged with { Output = Path.GetRelativePath(folder, output) }
                    : merged;
                stream.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record.Validate(), RecordJson.Compact)));
                stream.WriteByte((byte)'\n');
            }
        });
    }

    internal static int KindOrder(string kind)
    {
        int i = EditKinds.All.ToList().IndexOf(kind);
        return i < 0 ? EditKinds.All.Count : i;
    }
}
