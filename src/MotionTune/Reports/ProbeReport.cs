using System.Globalization;
using System.Text;
using MotionTune.IO;
using MotionTune.Probe;

namespace MotionTune.Reports;

/// <summary>The files <see cref="ProbeReport.Write"/> produced.</summary>
/// <param name="Summary">The aggregate over the videos.</param>
/// <param name="SummaryJson"><c>probe_summary.json</c>: cells, trade-off curve, recommendation with its rule.</param>
/// <param name="CellsCsv"><c>probe_cells.csv</c>: mean, standard error and count per window.</param>
/// <param name="VideosCsv"><c>probe_videos.csv</c>: every video's every window.</param>
/// <param name="TradeOffCsv"><c>probe_tradeoff.csv</c>: the τ_end = 0 curve with the rule's working.</param>
/// <param name="RecommendationText"><c>recommended_tau.txt</c>: the τ and the rule in words.</param>
/// <param name="ClipHeatmap">The CLIP-score-change heatmap.</param>
/// <param name="FlowHeatmap">The flow-similarity heatmap.</param>
/// <param name="TradeOff">The trade-off curve.</param>
public sealed record ProbeReportFiles(
    ProbeSummary Summary, string SummaryJson, string CellsCsv, string VideosCsv, string TradeOffCsv, string RecommendationText,
    PlotFiles ClipHeatmap, PlotFiles FlowHeatmap, PlotFiles TradeOff);

/// <summary>Writes every output of a probe run over a dataset into one folder.</summary>
public static class ProbeReport
{
    /// <summary>File names inside the output folder.</summary>
    public const string SummaryJsonName = "probe_summary.json", CellsCsvName = "probe_cells.csv", VideosCsvName = "probe_videos.csv",
        TradeOffCsvName = "probe_tradeoff.csv", RecommendationName = "recommended_tau.txt",
        ClipHeatmapName = "heatmap_clip_score_change", FlowHeatmapName = "heatmap_flow_similarity", TradeOffName = "tradeoff_tau_end_0";

    /// <summary>Aggregates <paramref name="results"/> and writes the tables, the figures and the recommendation into <paramref name="folder"/>.</summary>
    public static ProbeReportFiles Write(string folder, IReadOnlyList<ProbeVideoResult> results)
    {
        var summary = ProbeSummary.Aggregate(results);
        Directory.CreateDirectory(folder);
        string At(string name) => Path.Combine(folder, name);

        summary.WriteJson(At(SummaryJsonName));
        ProbeCsv.WriteCells(At(CellsCsvName), summary);
        ProbeCsv.WriteVideos(At(VideosCsvName), results.OrderBy(r => r.Video, StringComparer.Ordinal));
        ProbeCsv.WriteTradeOff(At(TradeOffCsvName), summary.Recommendation);
        AtomicFile.WriteAllText(At(RecommendationName), RecommendationText(summary));
        var clip = ProbePlots.ClipScoreChangeHeatmap(summary, At(ClipHeatmapName));
        var flow = ProbePlots.FlowSimilarityHeatmap(summary, At(FlowHeatmapName));
        var tradeOff = ProbePlots.TradeOffCurve(summary, At(TradeOffName));
        return new ProbeReportFiles(summary, At(SummaryJsonName), At(CellsCsvName), At(VideosCsvName), At(TradeOffCsvName),
            At(RecommendationName), clip, flow, tradeOff);
    }

    /// <summary>The recommendation in a few lines: τ, the rule, and the curve it was read from.</summary>
    public static string RecommendationText(ProbeSummary summary)
    {
        var r = summary.Recommendation;
        var text = new StringBuilder();
        text.Append("recommended tau: ").Append(r.Tau?.ToString(CultureInfo.InvariantCulture) ?? "none").Append('\n');
        text.Append("rule: ").Append(r.Rule).Append('\n');
        if (r.Note is not null) text.Append("note: ").Append(r.Note).Append('\n');
        text.Append("videos: ").Append(summary.Videos.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("tau_start  clip_change  flow_similarity  score\n");
        foreach (var p in r.Curve)
            text.Append(CultureInfo.InvariantCulture, $"{p.TauStart,9}  {p.ClipScoreChange,11:F3}  {p.FlowSimilarity,15:F4}  {p.Score,5:F3}{(p.TauStart == r.Tau ? "  <-" : "")}\n");
        return text.ToString();
    }
}
