using MotionTune.Probe;

namespace MotionTune.Tests.Probe;

public sealed class TauRecommendationTests
{
    private static readonly int[] Taus = Enumerable.Range(1, 10).Select(k => k * 100).ToArray();

    private static TauRecommendation Rule(Func<int, double> clip, Func<int, double> flow) =>
        TauRecommendation.FromCurve(Taus.Select(t => (t, clip(t), flow(t))));

    [Fact]
    public void PicksTheLastTauBeforeTheMotionCollapses()
    {
        // Editing grows linearly; motion holds until 700 and then falls linearly to nothing at 1000.
        var r = Rule(t => t / 100.0, t => t <= 700 ? 1 : 1 - (t - 700) / 300.0);
        Assert.Equal(700, r.Tau);
        Assert.Null(r.Note);
        Assert.Equal(TauRecommendation.RuleText, r.Rule);
        // The end points score 0: one goal is at its worst there.
        Assert.Equal(0, r.Curve[0].Score);
        Assert.Equal(0, r.Curve[^1].Score);
        Assert.Equal(6.0 / 9, r.Curve.Single(p => p.TauStart == 700).Score, 12);
    }

    [Fact]
    public void PaperShapedCurvesGiveATauInsideTheirRange()
    {
        // Saturating CLIP gain, flow flat then dropping fast: the paper's "around [700, 900]".
        var r = Rule(t => 1 - Math.Exp(-t / 250.0), t => 0.95 - 0.6 * Math.Pow(Math.Max(0, (t - 700) / 300.0), 2));
        Assert.InRange(r.Tau!.Value, 700, 900);
        Assert.Equal(700, r.Tau); // products: 0.935 at 700, 0.858 at 800, 0.548 at 900
    }

    [Fact]
    public void IsInvariantToAffineRescalingOfEitherMetric()
    {
        Func<int, double> clip = t => Math.Sqrt(t), flow = t => Math.Cos(t / 700.0);
        var a = Rule(clip, flow);
        var b = Rule(t => 100 * clip(t) - 37, t => 0.5 * flow(t) + 3);
        Assert.Equal(a.Tau, b.Tau);
        Assert.Equal(a.Curve.Select(p => p.Score), b.Curve.Select(p => p.Score), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void SymmetricLinearCurvesTieAndTheLargerTauWins()
    {
        // Ĉ = (t − 100)/900 and F̂ = 1 − Ĉ: the product is equal at 500 and 600.
        var r = Rule(t => t, t => -t);
        var top = r.Curve.Where(p => p.Score >= r.Curve.Max(q => q.Score) - 1e-12).Select(p => p.TauStart).ToArray();
        Assert.Equal([500, 600], top);
        Assert.Equal(600, r.Tau);
    }

    [Fact]
    public void AFlatFlowCurveRecommendsTheMostEditingBelowTheTop()
    {
        // The top of the grid (c′ at every step) would win, but a τ of 1000 applies the customization nowhere.
        var r = Rule(t => Math.Log(t), _ => 0.9);
        Assert.Equal(900, r.Tau);
        Assert.Contains("flow similarity is flat", r.Note);
        Assert.Contains("no edit-vs-motion trade-off", r.Note);
        Assert.Equal(1000, r.Curve[^1].TauStart); // still on the curve, and in the normalisation
    }

    [Fact]
    public void ACurveWhoseBestPointIsTheTopSaysThereIsNoTradeOff()
    {
        // Editing saturates at 700; motion is noisy but best at the top: the probe of a model whose prompt does not set motion.
        var r = Rule(t => Math.Min(t, 700), t => t == 1000 ? 0.70 : t == 900 ? 0.697 : 0.64 + 0.01 * (t % 300) / 100);
        Assert.Equal(900, r.Tau);
        Assert.Contains("tau_start = 1000 (the edit at every step) scored highest", r.Note);
        var typical = Rule(t => t / 100.0, t => t <= 700 ? 1 : 1 - (t - 700) / 300.0);
        Assert.Null(typical.Note);
    }

    [Fact]
    public void NoiseDoesNotMoveThePickFarAndNaNPointsAreSkipped()
    {
        var random = new Random(3);
        var r = Rule(t => t / 100.0 + 0.05 * random.NextDouble(), t => t == 300 ? double.NaN : (t <= 700 ? 1 : 1 - (t - 700) / 300.0) + 0.01 * random.NextDouble());
        Assert.Equal(700, r.Tau);
        Assert.Equal(9, r.Curve.Count);
        Assert.DoesNotContain(r.Curve, p => p.TauStart == 300);
    }

    [Fact]
    public void TooFewPointsGiveNoRecommendationWithAReason()
    {
        var r = TauRecommendation.FromCurve([(700, 1.0, 0.5), (800, double.NaN, 0.4)]);
        Assert.Null(r.Tau);
        Assert.Contains("at least 2", r.Note);
        Assert.Throws<ArgumentException>(() => TauRecommendation.FromCurve([(700, 1.0, 0.5), (700, 2.0, 0.4)]));
    }

    [Fact]
    public void SummaryOfSyntheticDatasetRecommendsSevenHundred()
    {
        var summary = ProbeSummary.Aggregate(SyntheticProbe.Dataset(5));
        Assert.Equal(10, summary.TradeOffRow.Count);
        // CLIP grows linearly in τ_start on the τ_end = 0 row; flow falls quadratically after 700.
        Assert.InRange(summary.Recommendation.Tau!.Value, 700, 800);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
