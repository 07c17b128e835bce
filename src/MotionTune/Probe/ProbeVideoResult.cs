using System.Text.Json.Serialization;
using MotionTune.IO;

namespace MotionTune.Probe;

/// <summary>The probe's measurements for one window of one video.</summary>
/// <param name="TauStart">The window's noisier end τ_start.</param>
/// <param name="TauEnd">The window's cleaner end τ_end.</param>
/// <param name="ClipScore">CLIP score of the resampled video x″0 against the edited caption c′ (the CLIP text-alignment metric: mean over frames of 100 · cos).</param>
/// <param name="ClipScoreChange">
/// <paramref name="ClipScore"/> minus the video's base score (x0 against c′), the paper's "CLIP score change" (section 3.3):
/// how much the window made the video look like c′ beyond what x0 already shares with it (background, for one).
/// </param>
/// <param name="FlowSimilarity">
/// Optical-flow similarity (<see cref="Metrics.OpticalFlowSimilarity"/>) of x″0 to the reconstruction x̂0 (the video
/// resampled from the same inverted noise with c at every step), in [−1, 1]; NaN when no point was tracked. Comparing
/// with the reconstruction rather than x0 leaves out the motion error that inversion itself makes, which is the same for
/// every window; <see cref="ProbeVideoResult.ReconstructionFlowSimilarity"/> records that error.
/// </param>
public sealed record ProbeCellResult(int TauStart, int TauEnd, double ClipScore, double ClipScoreChange, double FlowSimilarity)
{
    /// <summary>The window.</summary>
    [JsonIgnore]
    public ProbeCell Cell => new(TauStart, TauEnd);

    /// <summary>A cell's result from the raw scores; the change is computed here so that it always equals score − base.</summary>
    public static ProbeCellResult From(ProbeCell cell, double clipScore, double baseClipScore, double flowSimilarity) =>
        new(cell.TauStart, cell.TauEnd, clipScore, clipScore - baseClipScore, flowSimilarity);
}

/// <summary>
/// Everything the probe measured on one video (paper section 3.2): its caption c, the edited caption c′ (c with the
/// subject changed), the base CLIP score of x0 against c′, and per window of the grid the CLIP score of x″0 against
/// c′, its change over the base, and the flow similarity of x″0 to the reconstruction.
/// <para>
/// The probe runner fills one per video and saves it with <see cref="ProbeResultStore.Save"/>; the store reads them
/// back (<see cref="ProbeResultStore.TryLoad"/>) to skip finished videos, and <see cref="ProbeSummary.Aggregate"/>
/// averages them over a dataset. Build one with the object initialiser and call <see cref="Validate"/> before saving.
/// </para>
/// </summary>
public sealed record ProbeVideoResult
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The file format's version (<see cref="CurrentFormatVersion"/>).</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The video's name in its dataset (the TGVE "Video name"); also the result file's name.</summary>
    public required string Video { get; init; }

    /// <summary>The video's ground-truth caption c, used for inversion and outside the window.</summary>
    public required string Caption { get; init; }

    /// <summary>The edited caption c′, used inside the window.</summary>
    public required string EditedCaption { get; init; }

    /// <summary>Which model was probed (a name or folder), for the record.</summary>
    public string Model { get; init; } = "";

    /// <summary>The grid's interval (<see cref="ProbeGrid.Interval"/>).</summary>
    public int Interval { get; init; } = ProbeGrid.Default.Interval;

    /// <summary>The grid's range (<see cref="ProbeGrid.MaxTimestep"/>).</summary>
    public int MaxTimestep { get; init; } = ProbeGrid.Default.MaxTimestep;

    /// <summary>CLIP score of the original video x0 against c′, subtracted from every cell's score.</summary>
    public required double BaseClipScore { get; init; }

    /// <summary>Optional: CLIP score of the reconstruction x̂0 against c′ (how far inversion alone moves the score).</summary>
    public double? ReconstructionClipScore { get; init; }

    /// <summary>Optional: flow similarity of the reconstruction x̂0 to x0 (how well inversion keeps the motion).</summary>
    public double? ReconstructionFlowSimilarity { get; init; }

    /// <summary>Run settings worth keeping with the numbers (inversion steps, guidance, seed, frame count, ...).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>One result per window of the grid.</summary>
    public required IReadOnlyList<ProbeCellResult> Cells { get; init; }

    /// <summary>The grid the result was measured on.</summary>
    [JsonIgnore]
    public ProbeGrid Grid => new(Interval, MaxTimestep);

    /// <summary>The result of <paramref name="cell"/>, or null.</summary>
    public ProbeCellResult? Find(ProbeCell cell) => Cells.FirstOrDefault(c => c.TauStart == cell.TauStart && c.TauEnd == cell.TauEnd);

    /// <summary>
    /// Problems that make the record unusable: wrong version, empty names, a non-finite base score, cells missing from,
    /// repeated in or foreign to the grid, a non-finite CLIP score, or a change that is not score − base.
    /// NaN flow similarity is allowed (a video without trackable points).
    /// </summary>
    public IReadOnlyList<string> Problems(ProbeGrid? expectedGrid = null)
    {
        var problems = new List<string>();
        if (FormatVersion != CurrentFormatVersion) problems.Add($"format version {FormatVersion}, expected {CurrentFormatVersion}");
        if (string.IsNullOrWhiteSpace(Video)) problems.Add("no video name");
        if (string.IsNullOrWhiteSpace(Caption)) problems.Add("no caption");
        if (string.IsNullOrWhiteSpace(EditedCaption)) problems.Add("no edited caption");
        if (!double.IsFinite(BaseClipScore)) problems.Add("the base CLIP score is not a number");
        ProbeGrid grid;
        try { grid = Grid; }
        catch (ArgumentOutOfRangeException e)
        {
            problems.Add($"invalid grid (interval {Interval}, max {MaxTimestep}): {e.Message}");
            return problems;
        }
        if (expectedGrid is not null && expectedGrid != grid) problems.Add($"measured on the grid {grid}, expected {expectedGrid}");
        if (Cells is null)
        {
            problems.Add("no cells");
            return problems;
        }
        var seen = new HashSet<ProbeCell>();
        foreach (var c in Cells)
        {
            if (c is null) { problems.Add("a null cell"); continue; }
            if (!grid.Contains(c.Cell)) problems.Add($"cell {c.Cell} is not on the grid");
            else if (!seen.Add(c.Cell)) problems.Add($"cell {c.Cell} appears twice");
            if (!double.IsFinite(c.ClipScore)) problems.Add($"cell {c.Cell}: the CLIP score is not a number");
            else if (Math.Abs(c.ClipScoreChange - (c.ClipScore - BaseClipScore)) > 1e-6 * Math.Max(1, Math.Abs(c.ClipScore)))
                problems.Add($"cell {c.Cell}: CLIP score change {c.ClipScoreChange} is not score {c.ClipScore} − base {BaseClipScore}");
        }
        var missing = grid.Cells.Where(c => !seen.Contains(c)).ToArray();
        if (missing.Length > 0)
            problems.Add($"{missing.Length} of {grid.CellCount} cells missing ({string.Join(", ", missing.Take(5))}{(missing.Length > 5 ? ", ..." : "")})");
        return problems;
    }

    /// <summary>Throws when <see cref="Problems"/> finds any.</summary>
    /// <exception cref="InvalidDataException">The record is incomplete or inconsistent; the message lists why.</exception>
    public ProbeVideoResult Validate(ProbeGrid? expectedGrid = null)
    {
        var problems = Problems(expectedGrid);
        if (problems.Count > 0) throw new InvalidDataException($"probe result of video '{Video}': {string.Join("; ", problems)}.");
        return this;
    }

    /// <summary>Writes the record as indented JSON, atomically, after validating it.</summary>
    public void WriteJson(string path) => RecordJson.WriteFile(path, Validate());

    /// <summary>Reads a record written by <see cref="WriteJson"/> and validates it.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid probe result.</exception>
    public static ProbeVideoResult ReadJson(string path, ProbeGrid? expectedGrid = null)
    {
        var result = RecordJson.ReadFile<ProbeVideoResult>(path);
        var problems = result.Problems(expectedGrid);
        if (problems.Count > 0) throw new InvalidDataException($"{path}: {string.Join("; ", problems)}.");
        return result;
    }
}
