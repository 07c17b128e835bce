using System.Text.Json.Serialization;
using MotionTune.IO;

namespace MotionTune.Probe;

/// <summary>One window's statistics over a dataset.</summary>
/// <param name="TauStart">The window's noisier end τ_start.</param>
/// <param name="TauEnd">The window's cleaner end τ_end.</param>
/// <param name="ClipScoreChange">The CLIP-score change over the videos (the left heatmap of the paper's Figure 2).</param>
/// <param name="FlowSimilarity">The flow similarity over the videos (the right heatmap); NaN values are left out.</param>
/// <param name="ClipScore">The raw CLIP score against c′ over the videos.</param>
public sealed record ProbeCellSummary(
    int TauStart, int TauEnd, SampleStatistics ClipScoreChange, SampleStatistics FlowSimilarity, SampleStatistics ClipScore)
{
    /// <summary>The window.</summary>
    [JsonIgnore]
    public ProbeCell Cell => new(TauStart, TauEnd);
}

/// <summary>
/// The probe over a dataset: per window the mean and standard error over videos of the CLIP-score change and the flow
/// similarity (the two heatmaps of the paper's Figure 2), the τ_end = 0 trade-off curve, and the recommended τ with
/// its rule (<see cref="TauRecommendation"/>).
/// </summary>
public sealed record ProbeSummary
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The file format's version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Which model was probed (from the video results).</summary>
    public string Model { get; init; } = "";

    /// <summary>The grid's interval.</summary>
    public int Interval { get; init; }

    /// <summary>The grid's range.</summary>
    public int MaxTimestep { get; init; }

    /// <summary>The videos averaged over, by name.</summary>
    public required IReadOnlyList<string> Videos { get; init; }

    /// <summary>
    /// The appearance scorer the results were measured with (<see cref="IAppearanceScorer.Name"/>: "clip", or
    /// "shapesworld" for the exact ShapesWorld score); empty when the results do not say.
    /// </summary>
    public string Scorer { get; init; } = "";

    /// <summary>What the appearance score is called in tables and plots.</summary>
    [JsonIgnore]
    public string ScoreLabel => Scorer == "shapesworld" ? "appearance-score" : "CLIP-score";

    /// <summary>The base CLIP score of x0 against c′ over the videos.</summary>
    public required SampleStatistics BaseClipScore { get; init; }

    /// <summary>Per window, by τ_start then τ_end ascending.</summary>
    public required IReadOnlyList<ProbeCellSummary> Cells { get; init; }

    /// <summary>The recommended τ, the rule and its working on the trade-off curve.</summary>
    public required TauRecommendation Recommendation { get; init; }

    /// <summary>The grid.</summary>
    [JsonIgnore]
    public ProbeGrid Grid => new(Interval, MaxTimestep);

    /// <summary>The statistics of <paramref name="cell"/>, or null.</summary>
    public ProbeCellSummary? Find(ProbeCell cell) => Cells.FirstOrDefault(c => c.TauStart == cell.TauStart && c.TauEnd == cell.TauEnd);

    /// <summary>The τ_end = 0 row, by τ_start ascending.</summary>
    [JsonIgnore]
    public IReadOnlyList<ProbeCellSummary> TradeOffRow => Cells.Where(c => c.TauEnd == 0).OrderBy(c => c.TauStart).ToArray();

    /// <summary>Averages validated per-video results, all measured on one grid, and applies the τ rule.</summary>
    /// <exception cref="ArgumentException">No results, results on different grids or of different models, or a video twice.</exception>
    public static ProbeSummary Aggregate(IEnumerable<ProbeVideoResult> results)
    {
        var list = results.ToArray();
        if (list.Length == 0) throw new ArgumentException("no probe results to aggregate.", nameof(results));
        foreach (var r in list) r.Validate();
        var grid = list[0].Grid;
        var otherGrid = list.FirstOrDefault(r => r.Grid != grid);
        if (otherGrid is not null)
            throw new ArgumentException($"probe results on different grids: '{list[0].Video}' on {grid}, '{otherGrid.Video}' on {otherGrid.Grid}.", nameof(results));
        var twice = list.GroupBy(r => r.Video).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new ArgumentException($"video '{twice.Key}' appears {twice.Count()} times.", nameof(results));
        var models = list.Select(r => r.Model).Where(m => m.Length > 0).Distinct().ToArray();
        if (models.Length > 1)
            throw new ArgumentException($"probe results of different models ({string.Join(", ", models.Select(m => $"'{m}'"))}) cannot be averaged together; keep one results folder per model.", nameof(results));

        var cells = grid.Cells.Select(cell =>
        {
            var values = list.Select(r => r.Find(cell)!).ToArray();
            return new ProbeCellSummary(cell.TauStart, cell.TauEnd,
                SampleStatistics.Of(values.Select(v => v.ClipScoreChange)),
                SampleStatistics.Of(values.Select(v => v.FlowSimilarity)),
                SampleStatistics.Of(values.Select(v => v.ClipScore)));
        }).ToArray();

        var scorers = list.Select(r => r.Settings.TryGetValue("scorer", out var name) ? name : "").Distinct().ToArray();
        return new ProbeSummary
        {
            Model = models.FirstOrDefault() ?? "",
            Scorer = scorers.Length == 1 ? scorers[0] : "",
            Interval = grid.Interval,
            MaxTimestep = grid.MaxTimestep,
            Videos = list.Select(r => r.Video).Order(StringComparer.Ordinal).ToArray(),
            BaseClipScore = SampleStatistics.Of(list.Select(r => r.BaseClipScore)),
            Cells = cells,
            Recommendation = TauRecommendation.FromSummary(cells),
        };
    }

    /// <summary>Writes the summary as indented JSON, atomically.</summary>
    public void WriteJson(string path) => RecordJson.WriteFile(path, this);

    /// <summary>Reads a summary written by <see cref="WriteJson"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a probe summary of this format.</exception>
    public static ProbeSummary ReadJson(string path)
    {
        var summary = RecordJson.ReadFile<ProbeSummary>(path);
        if (summary.FormatVersion != CurrentFormatVersion)
            throw new InvalidDataException($"{path}: probe summary format version {summary.FormatVersion}, expected {CurrentFormatVersion}.");
        return summary;
    }
}
