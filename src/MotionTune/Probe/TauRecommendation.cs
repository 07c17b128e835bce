namespace MotionTune.Probe;

/// <summary>One point of the τ_end = 0 trade-off curve with the rule's working.</summary>
/// <param name="TauStart">τ_start (the candidate τ).</param>
/// <param name="ClipScoreChange">Mean CLIP-score change over the videos.</param>
/// <param name="FlowSimilarity">Mean flow similarity over the videos.</param>
/// <param name="ClipScoreChangeNormalized">The change min-max normalised over the curve to [0, 1] (1 = most editing).</param>
/// <param name="FlowSimilarityNormalized">The similarity min-max normalised over the curve to [0, 1] (1 = motion best kept).</param>
/// <param name="Score">The product of the two normalised values, which the rule maximises.</param>
public sealed record TradeOffPoint(
    int TauStart, double ClipScoreChange, double FlowSimilarity,
    double ClipScoreChangeNormalized, double FlowSimilarityNormalized, double Score);

/// <summary>
/// The recommended threshold τ for timestep-constrained customization, read off the probe's τ_end = 0 trade-off curve
/// (paper section 3.4: with τ_end fixed at 0, τ_start trades new-subject editing against keeping the original motion,
/// and "the optimal τ for the downstream task aligns with the peak" of that curve; Table 1).
/// <para>
/// <b>Rule.</b> On the row τ_end = 0, take the dataset means C(τ) (CLIP-score change) and F(τ) (flow similarity) at each
/// τ = τ_start where both are finite. Min-max normalise each over the row to [0, 1]:
/// Ĉ = (C − min C) / (max C − min C), F̂ = (F − min F) / (max F − min F). Recommend the τ maximising Ĉ · F̂;
/// among equal scores (within 1e-9) the larger τ, which trains the LoRA on fewer timesteps (less room for
/// appearance to leak in). The top of the grid (the largest τ_start, c′ at every step) sets the normalisation but is
/// not a candidate: a customization applied at t ≥ T is applied at no step. Where it would have won (editing at every
/// step kept the motion at least as well as any window: no trade-off), the note says so.
/// </para>
/// <para>
/// <b>Why this rule.</b> (1) It is the balanced point of the trade-off: Ĉ · F̂ is the area of the rectangle spanned under
/// the normalised curve, so it is largest where the two goals are jointly best (a Nash bargaining solution between
/// "edit" and "keep motion", with the worst value of each as the disagreement point), and the two end points, where one
/// goal is at its worst, score 0 and are never chosen unless the curve is degenerate. (2) It is invariant to the
/// metrics' units and offsets (CLIP ×100, flow in [−1, 1]), since only the normalised shapes matter. (3) A sum
/// Ĉ + F̂ is not used: for two roughly linear, opposite curves the sum is nearly constant and its maximum is decided
/// by noise, usually at an end point. A knee (maximum-curvature) detector is not used either: with ten points it is
/// sensitive to single-point noise and needs a convexity assumption the probe does not guarantee.
/// </para>
/// <para>
/// <b>Degenerate curves.</b> Where one curve is flat (max = min), its normalised value is 1 everywhere (that goal does
/// not trade against τ) and the rule follows the other curve (a flat flow curve recommends the τ with the most
/// editing). With fewer than two finite points there is no trade-off to read and no recommendation.
/// </para>
/// </summary>
/// <param name="Tau">The recommended τ, or null when the curve has fewer than two finite points.</param>
/// <param name="Rule">The rule in words, written into every output that carries the recommendation.</param>
/// <param name="Curve">The trade-off curve with the rule's working, by τ ascending.</param>
/// <param name="Note">Why there is no recommendation, or which curve was flat; null otherwise.</param>
public sealed record TauRecommendation(int? Tau, string Rule, IReadOnlyList<TradeOffPoint> Curve, string? Note)
{
    /// <summary>The rule in one sentence.</summary>
    public const string RuleText =
        "On the tau_end = 0 row, min-max normalise the mean CLIP-score change and the mean flow similarity over tau_start " +
        "to [0, 1] and pick the tau_start below the top of the grid maximising their product (ties: the larger tau_start); " +
        "the balanced point of the edit-vs-motion trade-off, invariant to the metrics' scales.";

    private const double TieTolerance = 1e-9;

    /// <summary>Applies the rule to a trade-off curve given as (τ_start, mean CLIP-score change, mean flow similarity).</summary>
    public static TauRecommendation FromCurve(IEnumerable<(int TauStart, double ClipScoreChange, double FlowSimilarity)> curve)
    {
        var points = curve
            .Where(p => double.IsFinite(p.ClipScoreChange) && double.IsFinite(p.FlowSimilarity))
            .OrderBy(p => p.TauStart)
            .ToArray();
        if (points.Select(p => p.TauStart).Distinct().Count() != points.Length)
            throw new ArgumentException("the trade-off curve has a τ_start twice.", nameof(curve));
        if (points.Length < 2)
            return new(null, RuleText, [], $"the tau_end = 0 row has {points.Length} finite point(s); at least 2 are needed for a trade-off.");

        var notes = new List<string>();
        var clip = Normalize(points.Select(p => p.ClipScoreChange).ToArray(), "CLIP-score change", notes);
        var flow = Normalize(points.Select(p => p.FlowSimilarity).ToArray(), "flow similarity", notes);
        var scored = points.Select((p, i) => new TradeOffPoint(p.TauStart, p.ClipScoreChange, p.FlowSimilarity, clip[i], flow[i], clip[i] * flow[i])).ToArray();

        var top = scored[^1];
        var candidates = scored[..^1];
        double best = candidates.Max(p => p.Score);
        int tau = candidates.Where(p => p.Score >= best - TieTolerance).Max(p => p.TauStart);
        if (top.Score > best + TieTolerance)
            notes.Add($"tau_start = {top.TauStart} (the edit at every step) scored highest ({top.Score:F3} against {best:F3}): editing at every " +
                "step kept the motion as well as any window, so this model shows no edit-vs-motion trade-off along tau_start; " +
                $"{tau}, the best boundary that still leaves the customization some steps, is recommended.");
        return new(tau, RuleText, scored, notes.Count > 0 ? string.Join(" ", notes) : null);
    }

    /// <summary>Applies the rule to the τ_end = 0 row of a probe summary.</summary>
    public static TauRecommendation FromSummary(IEnumerable<ProbeCellSummary> cells) =>
        FromCurve(cells.Where(c => c.TauEnd == 0).Select(c => (c.TauStart, c.ClipScoreChange.Mean, c.FlowSimilarity.Mean)));

    private static double[] Normalize(double[] values, string name, List<string> notes)
    {
        double min = values.Min(), max = values.Max();
        if (max - min <= 1e-12 * Math.Max(1, Math.Abs(max)))
        {
            notes.Add($"The {name} is flat over tau_start, so it does not trade off and the other curve decides.");
            return values.Select(_ => 1.0).ToArray();
        }
        return values.Select(v => (v - min) / (max - min)).ToArray();
    }
}
