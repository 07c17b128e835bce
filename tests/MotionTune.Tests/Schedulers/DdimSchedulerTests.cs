using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Tests.Schedulers;

public sealed class DdimSchedulerTests
{
    private static DdimScheduler Ddim(string prediction = "epsilon", string spacing = "leading", int offset = 0, bool zeroSnr = false,
        string schedule = "scaled_linear") =>
        new(new DdimSchedulerConfig
        {
            BetaSchedule = schedule, BetaStart = 0.00085, BetaEnd = 0.012, ClipSample = false, PredictionType = prediction,
            TimestepSpacing = spacing, StepsOffset = offset, RescaleBetasZeroSnr = zeroSnr,
        });

    [Fact]
    public void TimestepSpacingsFollowDiffusers()
    {
        var s = Ddim(spacing: "leading", offset: 1);
        s.SetTimesteps(10);
        Assert.Equal([901L, 801, 701, 601, 501, 401, 301, 201, 101, 1], s.Timesteps);
        Assert.Equal(s.Timesteps.Reverse(), s.InverseTimesteps);

        s = Ddim(spacing: "trailing");
        s.SetTimesteps(10);
        Assert.Equal([999L, 899, 799, 699, 599, 499, 399, 299, 199, 99], s.Timesteps);
        s.SetTimesteps(3); // 1000/3 is not whole: round(1000 − i·333.33) − 1
        Assert.Equal([999L, 666, 332], s.Timesteps);
        Assert.Contains("ending at -1", Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(61)).Message);

        s = Ddim(spacing: "linspace");
        s.SetTimesteps(4); // linspace(0, 999, 4) = 0, 333, 666, 999
        Assert.Equal([999L, 666, 333, 0], s.Timesteps);
        s.SetTimesteps(25); // 12 · 41.625 = 499.5 rounds half to even
        Assert.Contains(500L, s.Timesteps);
        Assert.Throws<NotSupportedException>(() => s.InverseTimesteps);

        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(1001));
    }

    [Fact]
    public void StepNeedsTimestepsFirst()
    {
        using var x = zeros(new long[] { 1, 1, 1, 1, 1 });
        var e = Assert.Throws<InvalidOperationException>(() => Ddim().Step(x, 999, x));
        Assert.Contains("SetTimesteps", e.Message);
    }

    [Fact]
    public void ZeroTerminalSnrAndSnrShiftChangeTheScheduleAsDefined()
    {
        var plain = Ddim();
        var rescaled = Ddim(zeroSnr: true);
        Assert.Equal(0.0, rescaled.AlphasCumprod[^1], 12);
        Assert.Equal(plain.AlphasCumprod[0], rescaled.AlphasCumprod[0], 6);

        var unshifted = new CogVideoXDdimScheduler(new CogVideoXDdimSchedulerConfig { SnrShiftScale = 1.0 });
        var shifted = new CogVideoXDdimScheduler(new CogVideoXDdimSchedulerConfig { SnrShiftScale = 3.0 });
        foreach (int t in new[] { 0, 250, 500, 999 })
        {
            double a = unshifted.AlphasCumprod[t], b = shifted.AlphasCumprod[t];
            Assert.Equal(a / (1 - a) / 3.0, b / (1 - b), 9); // the SNR is divided by the shift
        }
        Assert.Equal(ScalarType.Float64, shifted.AlphasCumprodDtype); // scaled_linear in float64, as diffusers' CogVideoX
        Assert.Equal(ScalarType.Float32, plain.AlphasCumprodDtype);
    }

    [Fact]
    public void GlideCosineScheduleMatchesItsDefinition()
    {
        var s = Ddim(schedule: "squaredcos_cap_v2");
        static double F(double u) => Math.Pow(Math.Cos((u + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(F(1 / 1000.0) / F(0), s.AlphasCumprod[0], 6);
        Assert.Equal(F(500 / 1000.0) / F(0), s.AlphasCumprod[499], 5);
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    [InlineData("sample")]
    public void TrainingTargetIsWhatTheStepReadsBackAsTheCleanSample(string prediction)
    {
        using var scope = NewDisposeScope();
        var s = Ddim(prediction);
        s.SetTimesteps(25);
        var x0 = randn(new long[] { 2, 4, 3, 4, 4 }, generator: new Generator(1));
        var noise = randn(new long[] { 2, 4, 3, 4, 4 }, generator: new Generator(2));
        foreach (long t in new long[] { 1, 481, 961 })
        {
            var ts = tensor(new[] { t, t });
            var xt = s.AddNoise(x0, noise, ts);
            var target = s.TrainingTarget(x0, noise, ts);
            var step = s.Step(target, t, xt);
            Assert.True(step.PredOriginalSample.allclose(x0, rtol: 1e-4, atol: 1e-4), $"{prediction} at t = {t}");
        }
        Assert.True(s.TrainingTarget(x0, noise, tensor(new[] { 5L, 5L })).SameAs(
            prediction switch { "epsilon" => noise, "sample" => x0, _ => s.GetVelocity(x0, noise, tensor(new[] { 5L, 5L })) }));
    }

    [Fact]
    public void AddNoiseUsesOneTimestepPerSample()
    {
        using var scope = NewDisposeScope();
        var s = Ddim();
        var x0 = ones(new long[] { 2, 1, 1, 1, 1 });
        var noise = zeros(new long[] { 2, 1, 1, 1, 1 });
        var noisy = s.AddNoise(x0, noise, tensor(new[] { 0L, 999L })).flatten();
        Assert.Equal(Math.Sqrt(s.AlphasCumprod[0]), noisy[0].item<float>(), 6);
        Assert.Equal(Math.Sqrt(s.AlphasCumprod[999]), noisy[1].item<float>(), 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.AddNoise(x0, noise, tensor(new[] { 0L, 1000L })));
    }

    [Fact]
    public void EtaNoiseIsReproducibleForASeed()
    {
        using var scope = NewDisposeScope();
        var s = Ddim();
        s.SetTimesteps(10);
        var x = randn(new long[] { 1, 4, 2, 4, 4 }, generator: new Generator(3));
        var eps = randn(new long[] { 1, 4, 2, 4, 4 }, generator: new Generator(4));
        Tensor Run(ulong seed, double eta) => s.Step(eps, 501, x, eta, new Generator(seed)).PrevSample;
        Assert.True(Run(7, 1.0).SameAs(Run(7, 1.0)));
        Assert.False(Run(7, 1.0).allclose(Run(8, 1.0)));
        Assert.True(Run(7, 0.0).SameAs(Run(8, 0.0))); // η = 0 draws nothing

        // η = 1 adds σ_t·z with σ_t² = (1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev): check against explicit variance noise.
        var z = randn(new long[] { 1, 4, 2, 4, 4 }, generator: new Generator(9));
        double a = s.AlphasCumprod[501], ap = s.AlphasCumprod[401];
        double sigma = Math.Sqrt((1 - ap) / (1 - a) * (1 - a / ap));
        var x0 = (x - eps * Math.Sqrt(1 - a)) / Math.Sqrt(a);
        var expected = x0 * Math.Sqrt(ap) + eps * Math.Sqrt(1 - ap - sigma * sigma) + z * sigma;
        Assert.True(s.Step(eps, 501, x, 1.0, varianceNoise: z).PrevSample.allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void ClippingAndThresholdingBoundThePredictedCleanSample()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 2, 4, 2, 4, 4 }, generator: new Generator(5)) * 5;
        var eps = randn(new long[] { 2, 4, 2, 4, 4 }, generator: new Generator(6));
        foreach (var config in new[]
                 {
                     new DdimSchedulerConfig { ClipSample = true, ClipSampleRange = 0.5 },
                     new DdimSchedulerConfig { Thresholding = true, SampleMaxValue = 1.5 },
                 })
        {
            var s = new DdimScheduler(config);
            s.SetTimesteps(10);
            var x0 = s.Step(eps, 501, x).PredOriginalSample;
            double bound = config.Thresholding ? 1.0 : 0.5; // thresholding divides by s, so |x0| ≤ 1
            Assert.True(x0.abs().max().item<float>() <= bound + 1e-6);
        }
    }
}
