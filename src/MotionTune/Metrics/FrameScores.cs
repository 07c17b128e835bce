namespace MotionTune.Metrics;

/// <summary>A video's score and the per-frame (or per frame pair) values it is the mean of.</summary>
/// <param name="Mean">The mean of <paramref name="Values"/>: the metric.</param>
/// <param name="Values">One value per frame (text alignment, PickScore) or per frame pair (temporal consistency).</param>
public sealed record FrameScores(double Mean, IReadOnlyList<double> Values)
{
    /// <summary>The mean of <paramref name="values"/> (at least one), in float64.</summary>
    public static FrameScores Of(IReadOnlyList<double> values) =>
        values.Count > 0 ? new(values.Average(), values) : throw new ArgumentException("No values to average.", nameof(values));
}
