using MotionTune.Customization;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

public sealed class TrainingDrawsTests
{
    static TrainingDrawsTests() => TorchRuntime.Initialize();

    private static readonly long[] Shape = [1, 2, 2, 2, 2];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(350)]
    [InlineData(700)]
    [InlineData(950)]
    [InlineData(998)]
    [InlineData(999)]
    public void TimestepsAreDrawnFromTauToTOnly(int tau)
    {
        var drawn = new List<long>();
        for (long seed = 0; seed < 60; seed++)
            for (int step = 1; step <= 5; step++)
            {
                var (timesteps, _) = TrainingDraws.ForStep(seed * 7919 - 100, step, tau, 1000, 4, Shape, CPU);
                Assert.Equal(ScalarType.Int64, timesteps.dtype);
                drawn.AddRange(timesteps.data<long>().ToArray());
            }
        Assert.All(drawn, t => Assert.InRange(t, tau, 999));
        // 1200 draws cover both ends of the range and centre on its middle.
        int width = 1000 - tau;
        Assert.InRange(drawn.Min(), tau, tau + Math.Max(width / 50, 0));
        Assert.InRange(drawn.Max(), 999 - Math.Max(width / 50, 0), 999);
        Assert.InRange(drawn.Average(), (tau + 999) / 2.0 - 0.05 * width - 0.01, (tau + 999) / 2.0 + 0.05 * width + 0.01);
    }

    [Fact]
    public void DrawsFollowFromSeedAndStepAlone()
    {
        var (t1, n1) = TrainingDraws.ForStep(42, 17, 500, 1000, 2, Shape, CPU);
        var (t2, n2) = TrainingDraws.ForStep(42, 17, 500, 1000, 2, Shape, CPU);
        var (_, n3) = TrainingDraws.ForStep(42, 18, 500, 1000, 2, Shape, CPU);
        var (_, n4) = TrainingDraws.ForStep(43, 17, 500, 1000, 2, Shape, CPU);
        Assert.True(t1.SameAs(t2) && n1.SameAs(n2));
        Assert.Equal(new long[] { 2, 2, 2, 2, 2 }, n1.shape);
        Assert.Equal(ScalarType.Float32, n1.dtype);
        Assert.False(n1.SameAs(n3));
        Assert.False(n1.SameAs(n4));
        Assert.NotEqual(TrainingDraws.DerivedSeed(0, 1), TrainingDraws.DerivedSeed(1, 0));
        Assert.True(TrainingDraws.DerivedSeed(-5, long.MaxValue) >= 0);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    public void AnEmptyRangeIsRefused(int tau) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingDraws.ForStep(0, 1, tau, 1000, 1, Shape, CPU));
}
