using System.Text;
using System.Text.Json;
using MotionTune.IO;

namespace MotionTune.Evaluation;

/// <summary>A line of a JSONL file that is not a valid record.</summary>
/// <param name="Path">The file.</param>
/// <param name="LineNumber">The 1-based line.</param>
/// <param name="Message">What is wrong.</param>
public sealed record JsonlIssue(string Path, int LineNumber, string Message)
{
    /// <summary>"file:line: message".</summary>
    public override string ToString() => $"{Path}:{LineNumber}: {Message}";
}

/// <summary>
/// Evaluation records as JSON Lines: one compact JSON object per line, UTF-8, LF.
/// <para>
/// Appending is crash-safe: each record goes to the file in one write of a complete line and is flushed to disk, so a
/// crash leaves at most one partial last line. The next writer (<see cref="Open"/>) cuts such a torn tail off before
/// appending, with a warning (a complete record that only lacks its line end is kept), and <see cref="Read"/> ignores a torn last line; a bad line anywhere else is an error
/// with its line number, since it cannot come from a crash. A resumed run reads the file, skips the samples it holds
/// (<see cref="CompletedKeys"/>) and appends the rest. One writer per file: shards write their own files, merged later
/// (<see cref="ShardMerge"/>).
/// </para>
/// </summary>
/// <example>
/// An evaluation runner's loop for one shard:
/// <code>
/// var dataset = TgveDataset.Load(csvPath, videoFolder, new TgveLoadOptions { SkipMissingVideos = skipMissing });
/// var done = EvaluationJsonl.CompletedKeys(jsonlPath);
/// using var results = EvaluationJsonl.Open(jsonlPath);
/// foreach (var entry in shard.Select(dataset.Entries))       // shard = ShardSpec.Parse("i/n")
///     foreach (var (kind, prompt) in entry.Prompts)
///         foreach (var seed in seeds)
///         {
///             if (done.Contains(new SampleKey(model, variant, tau, entry.Video, kind, seed))) continue;
///             // customize once per video, sample, measure ...
///             results.Append(new EvaluationRecord { Model = model, Variant = variant, Tau = tau, Video = entry.Video,
///                 VideoIndex = entry.Index, PromptKind = kind, Prompt = prompt, Seed = seed, TextAlignment = ..., ... });
///         }
/// </code>
/// </example>
public sealed class EvaluationJsonl : IDisposable
{
    private readonly FileStream _stream;

    /// <summary>The file.</summary>
    public string Path { get; }

    private EvaluationJsonl(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    /// <summary>Opens <paramref name="path"/> for appending (created when absent), first cutting off a torn last line.</summary>
    public static EvaluationJsonl Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            long keep = CompleteLength(stream);
            if (keep < stream.Length)
            {
                var tail = new byte[stream.Length - keep];
                stream.Seek(keep, SeekOrigin.Begin);
                stream.ReadExactly(tail);
                if (IsRecord(tail))
                {
                    // A whole record without its line end (written by hand, say): complete the line, keep the record.
                    stream.Seek(0, SeekOrigin.End);
                    stream.Write("\n"u8);
                }
                else
                {
                    Log.Warning($"{full}: cutting off a partial last line ({tail.Length} bytes) left by an interrupted run.");
                    stream.SetLength(keep);
                }
            }
            stream.Seek(0, SeekOrigin.End);
            return new EvaluationJsonl(full, stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends one validated record as one line and flushes it to disk.</summary>
    /// <exception cref="InvalidDataException">The record is unusable.</exception>
    public void Append(EvaluationRecord record)
    {
        record.Validate();
        var line = JsonSerializer.Serialize(record, RecordJson.Compact) + "\n";
        _stream.Write(Encoding.UTF8.GetBytes(line));
        _stream.Flush(flushToDisk: true);
    }

    /// <summary>Appends one record to <paramref name="path"/> (<see cref="Open"/>, <see cref="Append(EvaluationRecord)"/>, close).</summary>
    public static void Append(string path, EvaluationRecord record)
    {
        using var file = Open(path);
        file.Append(record);
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    /// <summary>
    /// Reads every record of <paramref name="path"/> with its line number. Blank lines and a torn last line (no line end
    /// and not valid JSON, which only an interrupted append leaves) are skipped, the latter with a warning.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line other than a torn last one is not a valid record; the message names each.</exception>
    public static IReadOnlyList<(EvaluationRecord Record, int LineNumber)> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"JSONL file not found: {path}", path);
        var text = File.ReadAllText(path, Encoding.UTF8);
        var lines = text.Split('\n');
        bool tornTail = text.Length > 0 && !text.EndsWith('\n');
        var records = new List<(EvaluationRecord, int)>();
        var issues = new List<JsonlIssue>();
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            bool isLast = i == lines.Length - 1;
            try
            {
                var record = JsonSerializer.Deserialize<EvaluationRecord>(line, RecordJson.Compact)
                             ?? throw new JsonException("the line is JSON null");
                var problems = record.Problems();
                if (problems.Count > 0) issues.Add(new(path, i + 1, string.Join("; ", problems)));
                else records.Add((record, i + 1));
            }
            catch (JsonException e)
            {
                if (isLast && tornTail) Log.Warning($"{path}:{i + 1}: ignoring a partial last line left by an interrupted run.");
                else issues.Add(new(path, i + 1, $"not a valid evaluation record ({e.Message})"));
            }
        }
        if (issues.Count > 0) throw new InvalidDataException($"{issues.Count} bad line(s):\n  {string.Join("\n  ", issues)}");
        return records;
    }

    /// <summary>The samples <paramref name="path"/> already holds (none when it does not exist), for resuming.</summary>
    public static IReadOnlySet<SampleKey> CompletedKeys(string path) =>
        File.Exists(path) ? Read(path).Select(r => r.Record.Key).ToHashSet() : new HashSet<SampleKey>();

    private static bool IsRecord(byte[] utf8)
    {
        try { return JsonSerializer.Deserialize<EvaluationRecord>(utf8, RecordJson.Compact) is { } r && r.Problems().Count == 0; }
        catch (JsonException) { return false; }
    }

    // Length of the file up to and including its last line end.
    private static long CompleteLength(FileStream stream)
    {
        long length = stream.Length;
        if (length == 0) return 0;
        var buffer = new byte[64 * 1024];
        long end = length;
        while (end > 0)
        {
            int count = (int)Math.Min(buffer.Length, end);
            stream.Seek(end - count, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, count);
            int at = Array.LastIndexOf(buffer, (byte)'\n', count - 1, count);
            if (at >= 0) return end - count + at + 1;
            end -= count;
        }
        return 0;
    }
}
