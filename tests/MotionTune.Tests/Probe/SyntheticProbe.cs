using MotionTune.Probe;

namespace MotionTune.Tests.Probe;

/// <summary>Probe results shaped like the paper's Figure 2, generated from closed forms plus small seeded noise.</summary>
internal static class SyntheticProbe
{
    /// <summary>
    /// CLIP-score change grows with the window length τ_start − τ_end; flow similarity stays near 0.95 while
    /// τ_start &lt;= 700 and falls steeply above it, barely depending on τ_end.
    /// </summary>
    public static ProbeVideoResult Video(string name, int seed, ProbeGrid? grid = null, double noise = 0.01)
    {
        grid ??= ProbeGrid.Default;
        var random = new Random(seed);
        double Noise() => noise * (2 * random.NextDouble() - 1);
        double baseScore = 24 + 2 * random.NextDouble();
        var cells = grid.Cells.Select(cell =>
        {
            double length = (cell.TauStart - cell.TauEnd) / (double)grid.MaxTimestep;
            double clip = baseScore + 6 * length + 10 * Noise();
            double drop = Math.Max(0, (cell.TauStart - 700) / 300.0);
            double flow = 0.95 - 0.6 * drop * drop - 0.02 * (cell.TauEnd / (double)grid.MaxTimestep) + Noise();
            return ProbeCellResult.From(cell, clip, baseScore, flow);
        }).ToArray();
        return new ProbeVideoResult
        {
            Video = name,
            Caption = $"a dog runs on the grass ({name})",
            EditedCaption = $"a cat runs on the grass ({name})",
            Model = "synthetic",
            Interval = grid.Interval,
            MaxTimestep = grid.MaxTimestep,
            BaseClipScore = baseScore,
            ReconstructionFlowSimilarity = 0.97,
            Settings = new Dictionary<string, string> { ["seed"] = seed.ToString(), ["steps"] = "50" },
            Cells = cells,
        };
    }

    public static IReadOnlyList<ProbeVideoResult> Dataset(int videos, ProbeGrid? grid = null) =>
        Enumerable.Range(0, videos).Select(i => Video($"video-{i:D2}", 100 + i, grid)).ToArray();
}
