using MotionTune.IO;

namespace MotionTune.Evaluation;

/// <summary>One video of a TGVE-format dataset.</summary>
/// <param name="Index">
/// The video's 0-based position among the CSV's well-formed video rows. Shards split by it
/// (<see cref="ShardSpec"/>), and it does not change when a video file goes missing.
/// </param>
/// <param name="LineNumber">The CSV line of the row.</param>
/// <param name="Video">"Video name".</param>
/// <param name="Caption">"Our GT caption": the reference video's caption, the training prompt.</param>
/// <param name="Prompts">The four edit prompts by kind (<see cref="EditKinds"/>), in the CSV's column order.</param>
/// <param name="Section">The section row above the video without its colon ("DAVIS Videos"), or null.</param>
/// <param name="VideoPath">The video's file or frame folder (<see cref="TgveVideoLocator"/>); null when not located.</param>
public sealed record TgveEntry(
    int Index, int LineNumber, string Video, string Caption, IReadOnlyDictionary<string, string> Prompts, string? Section, string? VideoPath);

/// <summary>A row of the CSV that could not be read as a video (or a missing video), with its line.</summary>
/// <param name="LineNumber">The CSV line.</param>
/// <param name="Message">What is wrong.</param>
public sealed record TgveIssue(int LineNumber, string Message)
{
    /// <summary>"line N: message".</summary>
    public override string ToString() => $"line {LineNumber}: {Message}";
}

/// <summary>How <see cref="TgveDataset.Load"/> treats bad rows and missing videos.</summary>
public sealed record TgveLoadOptions
{
    /// <summary>Report malformed rows as warnings and leave them out, instead of failing (the default).</summary>
    public bool SkipMalformedRows { get; init; }

    /// <summary>Report videos without a file as warnings and leave them out (<c>--skip-missing</c>), instead of failing (the default).</summary>
    public bool SkipMissingVideos { get; init; }
}

/// <summary>A TGVE-format dataset could not be used; the message lists every problem with its line.</summary>
public sealed class TgveDatasetException(string message) : Exception(message);

/// <summary>
/// A TGVE-format evaluation set: the LOVEU-TGVE-2023 CSV plus its video folder.
/// <para>
/// The CSV has the columns <c>Video name</c>, <c>Our GT caption</c>, <c>Style Change Caption</c>,
/// <c>Object Change Caption</c>, <c>Background Change Caption</c>, <c>Multiple Changes Caption</c> (found by name,
/// in any order, case and surrounding spaces ignored; other columns are ignored). The real file also has section rows
/// ("DAVIS Videos:", "Youtube Videos:", "Videvo Videos:": a first cell ending in ':' and all other cells empty),
/// blank separator rows, a UTF-8 byte order mark, quoted fields with commas, and trailing empty columns; all are
/// accepted. A row is malformed when it has an unterminated quote, text without a video name, a video name with an
/// empty caption or prompt, more non-empty fields than the header has columns (an unquoted comma), or a video name
/// seen before.
/// </para>
/// </summary>
public sealed class TgveDataset
{
    /// <summary>The required columns, as written in the LOVEU-TGVE-2023 CSV.</summary>
    public const string VideoColumn = "Video name", CaptionColumn = "Our GT caption";

    /// <summary>The CSV file.</summary>
    public required string CsvPath { get; init; }

    /// <summary>The video folder.</summary>
    public required string VideoFolder { get; init; }

    /// <summary>The usable videos, in CSV order.</summary>
    public required IReadOnlyList<TgveEntry> Entries { get; init; }

    /// <summary>Rows left out as malformed (only with <see cref="TgveLoadOptions.SkipMalformedRows"/>; otherwise loading fails).</summary>
    public required IReadOnlyList<TgveIssue> MalformedRows { get; init; }

    /// <summary>Videos left out for want of a file (only with <see cref="TgveLoadOptions.SkipMissingVideos"/>; otherwise loading fails).</summary>
    public required IReadOnlyList<TgveEntry> MissingVideos { get; init; }

    /// <summary>The entry of <paramref name="video"/>, or null.</summary>
    public TgveEntry? Find(string video) => Entries.FirstOrDefault(e => e.Video == video);

    /// <summary>
    /// Reads the CSV and locates every video in <paramref name="videoFolder"/>. By default any malformed row or missing
    /// video fails the load with one message listing them all (video names and CSV lines); the options turn either into
    /// warnings that leave the row out.
    /// </summary>
    /// <exception cref="FileNotFoundException">The CSV does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The video folder does not exist.</exception>
    /// <exception cref="TgveDatasetException">The header lacks a required column, or rows are malformed or videos missing (without the skip options).</exception>
    public static TgveDataset Load(string csvPath, string videoFolder, TgveLoadOptions? options = null)
    {
        options ??= new();
        var (entries, malformed) = ParseCsv(csvPath);
        if (malformed.Count > 0)
        {
            var list = string.Join("\n  ", malformed);
            if (!options.SkipMalformedRows)
                throw new TgveDatasetException($"{csvPath}: {malformed.Count} malformed row(s):\n  {list}\n(skip them with --skip-malformed)");
            Log.Warning($"{csvPath}: skipping {malformed.Count} malformed row(s):\n  {list}");
        }

        var locator = new TgveVideoLocator(videoFolder);
        var located = entries.Select(e => e with { VideoPath = locator.Find(e.Video) }).ToArray();
        var missing = located.Where(e => e.VideoPath is null).ToArray();
        if (missing.Length > 0)
        {
            var list = string.Join("\n  ", missing.Select(e => $"'{e.Video}' (line {e.LineNumber})"));
            var message = $"{missing.Length} video(s) of {csvPath} not found in {locator.Folder}:\n  {list}\n" +
                          $"(searched: {locator.DescribeSearch("<name>")})";
            if (!options.SkipMissingVideos) throw new TgveDatasetException(message + "\n(skip them with --skip-missing)");
            Log.Warning("skipping " + message);
        }
        return new TgveDataset
        {
            CsvPath = Path.GetFullPath(csvPath),
            VideoFolder = locator.Folder,
            Entries = located.Where(e => e.VideoPath is not null).ToArray(),
            MalformedRows = malformed,
            MissingVideos = missing,
        };
    }

    /// <summary>
    /// Parses the CSV alone: the well-formed video rows (without video paths) and the malformed rows with their lines.
    /// </summary>
    /// <exception cref="FileNotFoundException">The CSV does not exist.</exception>
    /// <exception cref="TgveDatasetException">The file is empty or its header lacks a required column.</exception>
    public static (IReadOnlyList<TgveEntry> Entries, IReadOnlyList<TgveIssue> Malformed) ParseCsv(string csvPath)
    {
        var rows = Csv.ReadFile(csvPath);
        int headerAt = 0;
        while (headerAt < rows.Count && rows[headerAt].IsBlank && rows[headerAt].Error is null) headerAt++;
        if (headerAt == rows.Count) throw new TgveDatasetException($"{csvPath}: the file is empty; expected a header with '{VideoColumn}', '{CaptionColumn}' and the four edit caption columns.");
        var header = rows[headerAt];

        var columns = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < header.Fields.Count; i++)
            if (header.Fields[i].Trim() is { Length: > 0 } name) columns.TryAdd(name, i);
        var required = new[] { VideoColumn, CaptionColumn }.Concat(EditKinds.All.Select(k => EditKinds.Columns[k])).ToArray();
        var absent = required.Where(c => !columns.ContainsKey(c)).ToArray();
        if (absent.Length > 0)
            throw new TgveDatasetException(
                $"{csvPath}:{header.LineNumber}: the header lacks column(s) {string.Join(", ", absent.Select(c => $"'{c}'"))}; " +
                $"it has {string.Join(", ", header.Fields.Where(f => f.Trim().Length > 0).Select(f => $"'{f.Trim()}'"))}.");
        int width = header.Fields.Count;
        while (width > 0 && header.Fields[width - 1].Trim().Length == 0) width--;

        var entries = new List<TgveEntry>();
        var malformed = new List<TgveIssue>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        string? section = null;
        foreach (var row in rows.Skip(headerAt + 1))
        {
            if (row.Error is not null) { malformed.Add(new(row.LineNumber, row.Error)); continue; }
            if (row.IsBlank) continue;
            string Cell(string column) => row[columns[column]].Trim();
            var name = Cell(VideoColumn);
            var others = row.Fields.Where((_, i) => i != columns[VideoColumn]).Any(f => f.Trim().Length > 0);
            if (!others && name.EndsWith(':'))
            {
                section = name.TrimEnd(':').Trim();
                continue;
            }
            int lastNonEmpty = row.Fields.Count - 1;
            while (lastNonEmpty >= 0 && row.Fields[lastNonEmpty].Trim().Length == 0) lastNonEmpty--;
            if (lastNonEmpty >= width)
            {
                malformed.Add(new(row.LineNumber, $"{lastNonEmpty + 1} fields but the header has {width} columns (an unquoted comma in a caption?)"));
                continue;
            }
            if (name.Length == 0)
            {
                malformed.Add(new(row.LineNumber, $"no '{VideoColumn}' but other cells are filled"));
                continue;
            }
            var empty = required.Skip(1).Where(c => Cell(c).Length == 0).ToArray();
            if (empty.Length > 0)
            {
                malformed.Add(new(row.LineNumber, $"video '{name}' has an empty {string.Join(", ", empty.Select(c => $"'{c}'"))}"));
                continue;
            }
            if (seen.TryGetValue(name, out var firstLine))
            {
                malformed.Add(new(row.LineNumber, $"video '{name}' appears again (first on line {firstLine})"));
                continue;
            }
            seen[name] = row.LineNumber;
            var prompts = EditKinds.All.ToDictionary(k => k, k => Cell(EditKinds.Columns[k]));
            entries.Add(new TgveEntry(entries.Count, row.LineNumber, name, Cell(CaptionColumn), prompts, section, null));
        }
        return (entries, malformed);
    }
}
