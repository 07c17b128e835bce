using System.Globalization;
using MotionTune.IO;

namespace MotionTune.Probe;

/// <summary>
/// The probe's tables as CSV (for spreadsheets and pandas), beside the JSON files:
/// <list type="bullet">
/// <item>per-video results, one row per (video, window): <see cref="WriteVideos"/> / <see cref="ReadVideos"/>
/// (the run settings of <see cref="ProbeVideoResult.Settings"/> stay in the JSON files);</item>
/// <item>per-window statistics over the dataset: <see cref="WriteCells"/> / <see cref="ReadCells"/>;</item>
/// <item>the τ_end = 0 trade-off curve with the τ rule's working: <see cref="WriteTradeOff"/>.</item>
/// </list>
/// An empty field is a value that could not be computed (NaN).
/// </summary>
public static class ProbeCsv
{
    private static readonly string[] VideoColumns =
    [
        "video", "caption", "edited_caption", "model", "interval", "max_timestep", "base_clip_score",
        "reconstruction_clip_score", "reconstruction_flow_similarity", "tau_start", "tau_end", "clip_score", "clip_score_change", "flow_similarity",
    ];

    private static readonly string[] CellColumns =
    [
        "tau_start", "tau_end",
        "clip_score_change_mean", "clip_score_change_se", "clip_score_change_n",
        "flow_similarity_mean", "flow_similarity_se", "flow_similarity_n",
        "clip_score_mean", "clip_score_se", "clip_score_n",
    ];

    /// <summary>Writes the per-video, per-window table atomically.</summary>
    public static void WriteVideos(string path, IEnumerable<ProbeVideoResult> results)
    {
        var rows = new List<string[]>();
        foreach (var r in results)
            foreach (var c in r.Cells.OrderBy(c => c.TauStart).ThenBy(c => c.TauEnd))
                rows.Add(
                [
                    r.Video, r.Caption, r.EditedCaption, r.Model, Int(r.Interval), Int(r.MaxTimestep), Csv.Number(r.BaseClipScore),
                    Csv.Number(r.ReconstructionClipScore), Csv.Number(r.ReconstructionFlowSimilarity),
                    Int(c.TauStart), Int(c.TauEnd), Csv.Number(c.ClipScore), Csv.Number(c.ClipScoreChange), Csv.Number(c.FlowSimilarity),
                ]);
        Csv.WriteFile(path, VideoColumns, rows);
    }

    /// <summary>Reads a table written by <see cref="WriteVideos"/> back into validated per-video results.</summary>
    /// <exception cref="InvalidDataException">A column is missing, a field is not a number, or a video's rows are inconsistent or incomplete.</exception>
    public static IReadOnlyList<ProbeVideoResult> ReadVideos(string path)
    {
        var (rows, col) = ReadTable(path, VideoColumns);
        var results = new List<ProbeVideoResult>();
        foreach (var group in rows.GroupBy(r => r[col["video"]]))
        {
            var first = group.First();
            string Text(string name) => first[col[name]];
            foreach (var row in group)
                foreach (var name in new[] { "caption", "edited_caption", "model", "interval", "max_timestep", "base_clip_score" })
                    if (row[col[name]] != Text(name))
                        throw new InvalidDataException($"{path}:{row.LineNumber}: video '{group.Key}' has {name} '{row[col[name]]}' here but '{Text(name)}' on line {first.LineNumber}.");
            double? Optional(string name) => first[col[name]].Length == 0 ? null : Number(first, col, name, path);
            var cells = group.Select(row => new ProbeCellResult(
                Integer(row, col, "tau_start", path), Integer(row, col, "tau_end", path),
                Number(row, col, "clip_score", path), Number(row, col, "clip_score_change", path), Number(row, col, "flow_similarity", path))).ToArray();
            var result = new ProbeVideoResult
            {
                Video = group.Key,
                Caption = Text("caption"),
                EditedCaption = Text("edited_caption"),
                Model = Text("model"),
                Interval = Integer(first, col, "interval", path),
                MaxTimestep = Integer(first, col, "max_timestep", path),
                BaseClipScore = Number(first, col, "base_clip_score", path),
                ReconstructionClipScore = Optional("reconstruction_clip_score"),
                ReconstructionFlowSimilarity = Optional("reconstruction_flow_similarity"),
                Cells = cells,
            };
            var problems = result.Problems();
            if (problems.Count > 0) throw new InvalidDataException($"{path}: video '{group.Key}' (from line {first.LineNumber}): {string.Join("; ", problems)}.");
            results.Add(result);
        }
        return results;
    }

    /// <summary>Writes the per-window statistics atomically.</summary>
    public static void WriteCells(string path, ProbeSummary summary) =>
        Csv.WriteFile(path, CellColumns, summary.Cells.Select(c => new[]
        {
            Int(c.TauStart), Int(c.TauEnd),
            Csv.Number(c.ClipScoreChange.Mean), Csv.Number(c.ClipScoreChange.StandardError), Int(c.ClipScoreChange.Count),
            Csv.Number(c.FlowSimilarity.Mean), Csv.Number(c.FlowSimilarity.StandardError), Int(c.FlowSimilarity.Count),
            Csv.Number(c.ClipScore.Mean), Csv.Number(c.ClipScore.StandardError), Int(c.ClipScore.Count),
        }));

    /// <summary>Reads a table written by <see cref="WriteCells"/>.</summary>
    /// <exception cref="InvalidDataException">A column is missing or a field is not a number.</exception>
    public static IReadOnlyList<ProbeCellSummary> ReadCells(string path)
    {
        var (rows, col) = ReadTable(path, CellColumns);
        SampleStatistics Stats(CsvRow row, string prefix) =>
            new(Number(row, col, prefix + "_mean", path), Number(row, col, prefix + "_se", path), Integer(row, col, prefix + "_n", path));
        return rows.Select(row => new ProbeCellSummary(
            Integer(row, col, "tau_start", path), Integer(row, col, "tau_end", path),
            Stats(row, "clip_score_change"), Stats(row, "flow_similarity"), Stats(row, "clip_score"))).ToArray();
    }

    /// <summary>Writes the τ_end = 0 curve with the normalised values, the rule's score and the recommended row, atomically.</summary>
    public static void WriteTradeOff(string path, TauRecommendation recommendation) =>
        Csv.WriteFile(path,
            ["tau_start", "clip_score_change", "flow_similarity", "clip_score_change_normalized", "flow_similarity_normalized", "score", "recommended"],
            recommendation.Curve.Select(p => new[]
            {
                Int(p.TauStart), Csv.Number(p.ClipScoreChange), Csv.Number(p.FlowSimilarity),
                Csv.Number(p.ClipScoreChangeNormalized), Csv.Number(p.FlowSimilarityNormalized), Csv.Number(p.Score),
                p.TauStart == recommendation.Tau ? "true" : "false",
            }));

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static (IReadOnlyList<CsvRow> Rows, Dictionary<string, int> Columns) ReadTable(string path, string[] required)
    {
        var all = Csv.ReadFile(path);
        var bad = all.FirstOrDefault(r => r.Error is not null);
        if (bad is not null) throw new InvalidDataException($"{path}:{bad.LineNumber}: {bad.Error}.");
        var rows = all.Where(r => !r.IsBlank).ToArray();
        if (rows.Length == 0) throw new InvalidDataException($"{path}: the file is empty (no header).");
        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < rows[0].Fields.Count; i++) columns.TryAdd(rows[0].Fields[i].Trim(), i);
        var missing = required.Where(c => !columns.ContainsKey(c)).ToArray();
        if (missing.Length > 0) throw new InvalidDataException($"{path}: missing column(s) {string.Join(", ", missing)}.");
        return (rows[1..], columns);
    }

    private static double Number(CsvRow row, Dictionary<string, int> col, string name, string path)
    {
        try { return Csv.ParseNumber(row[col[name]], $"{path}:{row.LineNumber} column {name}"); }
        catch (FormatException e) { throw new InvalidDataException(e.Message, e); }
    }

    private static int Integer(CsvRow row, Dictionary<string, int> col, string name, string path) =>
        int.TryParse(row[col[name]], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new InvalidDataException($"{path}:{row.LineNumber} column {name}: '{row[col[name]]}' is not an integer.");
}
