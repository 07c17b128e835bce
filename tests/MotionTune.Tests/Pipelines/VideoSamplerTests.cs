using MotionTune.Pipelines;
using MotionTune.Schedulers;
using MotionTune.Tests.Parity;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Pipelines;

/// <summary>
/// A closed-form stand-in for a video model: prediction = coupling·x + c̄·cos(t/300)·P, where c̄ is the condition's mean
/// hidden state (per sample) and P a fixed pattern. With coupling 0 the output ignores the latents.
/// </summary>
internal sealed class AnalyticDenoiser(double coupling, long[] sampleShape) : IVideoDenoiser
{
    private readonly Tensor _pattern = randn(sampleShape, generator: new Generator(11)).DetachFromDisposeScope();

    public int Calls { get; private set; }

    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        Calls++;
        using var scope = NewDisposeScope();
        var cBar = condition.HiddenStates.mean([1, 2]).reshape(-1, 1, 1, 1, 1).to(latents.dtype);
        var phase = (timesteps.to(latents.dtype) / 300.0).cos().reshape(-1, 1, 1, 1, 1);
        return (latents * coupling + cBar * phase * _pattern.to(latents.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>Returns the condition's mean hidden state everywhere and records each call.</summary>
internal sealed class RecordingDenoiser(IAdapterSwitch? adapters = null) : IVideoDenoiser
{
    public List<(long Timestep, long Batch, float[] ConditionMeans, bool AdaptersOn)> Calls { get; } = [];

    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        using var scope = NewDisposeScope();
        var means = condition.HiddenStates.mean([1, 2]);
        Calls.Add((timesteps[0].item<long>(), latents.shape[0], means.data<float>().ToArray(), adapters?.Active ?? false));
        return (zeros_like(latents) + means.reshape(-1, 1, 1, 1, 1)).MoveToOuterDisposeScope();
    }
}

internal sealed class FlagSwitch : IAdapterSwitch
{
    public bool Active { get; set; }
}

public sealed class VideoSamplerTests(ITestOutputHelper output)
{
    private static readonly long[] Shape = [1, 4, 3, 4, 4];

    private static TextCondition Caption(float value, int batch = 1) => new(full(new long[] { batch, 7, 8 }, value));

    private static double RelativeError(Tensor actual, Tensor expected) =>
        (actual - expected).abs().max().item<float>() / expected.abs().max().item<float>();

    public static TheoryData<string> FixtureSchedulers() =>
        new() { "scheduler_cogvideox2b_ddim", "scheduler_cogvideox5b_ddim", "scheduler_linear_ddim", "scheduler_modelscope_ddim" };

    [Theory]
    [MemberData(nameof(FixtureSchedulers))]
    public void InvertThenSampleReconstructsTheStartLatents(string caseFolder)
    {
        using var scope = NewDisposeScope();
        var scheduler = DdimScheduler.FromPretrained(Path.Combine(Fixtures.Root, caseFolder));
        var x0 = randn(Shape, generator: new Generator(5));
        var caption = Caption(0.7f);

        // A denoiser that ignores the latents is inverted exactly by one DDIM inversion step per sampling step.
        var fixedField = new VideoSampler(new AnalyticDenoiser(0, Shape[1..]), scheduler);
        using (var trajectory = fixedField.Invert(x0, caption, 25))
        {
            Assert.Equal(25, trajectory.Latents.Count);
            var back = fixedField.Sample(trajectory.Final, TimestepPlan.Plain(scheduler.Timesteps, 1), new SamplingPrompts(caption));
            double error = RelativeError(back, x0);
            output.WriteLine($"{caseFolder}: latent-independent denoiser, plain inversion: relative error {error:E2}");
            Assert.True(error < 1e-3, $"relative error {error:E2}");
        }

        // One that depends on the latents needs the model re-evaluated at x_t (fixed-point refinement).
        var coupled = new VideoSampler(new AnalyticDenoiser(0.3, Shape[1..]), scheduler);
        using (var plain = coupled.Invert(x0, caption, 25))
            output.WriteLine($"{caseFolder}: coupled denoiser, plain inversion: relative error " +
                             $"{RelativeError(coupled.Sample(plain.Final, TimestepPlan.Plain(scheduler.Timesteps, 1), new SamplingPrompts(caption)), x0):E2}");
        using (var refined = coupled.Invert(x0, caption, 25, new InversionOptions { FixedPointIterations = 20 }))
        {
            var back = coupled.Sample(refined.Final, TimestepPlan.Plain(scheduler.Timesteps, 1), new SamplingPrompts(caption));
            double error = RelativeError(back, x0);
            output.WriteLine($"{caseFolder}: coupled denoiser, 20 fixed-point iterations: relative error {error:E2}");
            Assert.True(error < 1e-3, $"relative error {error:E2}");
        }
    }

    [Fact]
    public void DiffusersInverseOnCogVideoXConfigDoesNotRetraceCogVideoXSampling()
    {
        // What DDIMInverseScheduler.from_config(CogVideoX's config) would walk: the same keys without the SNR shift.
        using var scope = NewDisposeScope();
        var cog = (CogVideoXDdimScheduler)DdimScheduler.FromPretrained(Path.Combine(Fixtures.Root, "scheduler_cogvideox2b_ddim"));
        var c = cog.Config;
        var unshifted = new DdimScheduler(new DdimSchedulerConfig
        {
            BetaStart = c.BetaStart, BetaEnd = c.BetaEnd, BetaSchedule = c.BetaSchedule, ClipSample = c.ClipSample,
            SetAlphaToOne = c.SetAlphaToOne, PredictionType = c.PredictionType, RescaleBetasZeroSnr = c.RescaleBetasZeroSnr,
            TimestepSpacing = c.TimestepSpacing, StepsOffset = c.StepsOffset,
        });
        var denoiser = new AnalyticDenoiser(0, Shape[1..]);
        var x0 = randn(Shape, generator: new Generator(5));
        using var trajectory = new VideoSampler(denoiser, unshifted).Invert(x0, Caption(0.7f), 25);
        var sampler = new VideoSampler(denoiser, cog);
        cog.SetTimesteps(25);
        var back = sampler.Sample(trajectory.Final, TimestepPlan.Plain(cog.Timesteps, 1), new SamplingPrompts(Caption(0.7f)));
        double error = RelativeError(back, x0);
        output.WriteLine($"unshifted DDIM inverse + CogVideoX sampling: relative error {error:E2}");
        Assert.True(error > 1e-2);
    }

    [Fact]
    public void GuidanceBatchesNegativeThenConditionAndCombinesThem()
    {
        using var scope = NewDisposeScope();
        var denoiser = new RecordingDenoiser();
        var sampler = new VideoSampler(denoiser, new DdimScheduler(new DdimSchedulerConfig { ClipSample = false }));
        var latents = zeros(new long[] { 2, 4, 3, 4, 4 });
        var guided = sampler.PredictGuided(latents, 500, Caption(3), Caption(1), guidanceScale: 7.5);
        var call = Assert.Single(denoiser.Calls);
        Assert.Equal(4, call.Batch); // one forward of 2B
        Assert.Equal([1f, 1f, 3f, 3f], call.ConditionMeans); // [negative, positive], as diffusers concatenates
        Assert.True(guided.allclose(full(new long[] { 2, 4, 3, 4, 4 }, 1 + 7.5 * (3 - 1))));

        var unguided = sampler.PredictGuided(latents, 500, Caption(3), Caption(1), guidanceScale: 1);
        Assert.Equal(2, denoiser.Calls[^1].Batch); // scale 1: the conditional forward only
        Assert.True(unguided.allclose(full(new long[] { 2, 4, 3, 4, 4 }, 3f)));
    }

    [Fact]
    public void SamplingEndsOnTheGuidedPredictionForAOneStepSamplePredictor()
    {
        // x0-prediction with ᾱ_final = 1: the last step returns the (guided) model output itself.
        using var scope = NewDisposeScope();
        var scheduler = new DdimScheduler(new DdimSchedulerConfig { PredictionType = "sample", ClipSample = false });
        scheduler.SetTimesteps(1);
        var sampler = new VideoSampler(new RecordingDenoiser(), scheduler);
        var result = sampler.Sample(randn(Shape), TimestepPlan.Plain(scheduler.Timesteps, 4), new SamplingPrompts(Caption(2), Negative: Caption(-1)));
        Assert.True(result.allclose(full(Shape, -1f + 4f * (2f - -1f))));
    }

    [Fact]
    public void SamplingIsDeterministicForASeed()
    {
        using var scope = NewDisposeScope();
        var scheduler = DdimScheduler.FromPretrained(Path.Combine(Fixtures.Root, "scheduler_modelscope_ddim"));
        var sampler = new VideoSampler(new AnalyticDenoiser(0.1, Shape[1..]), scheduler);
        scheduler.SetTimesteps(10);
        var plan = TimestepPlan.Plain(scheduler.Timesteps, 5);
        var prompts = new SamplingPrompts(Caption(0.5f), Negative: Caption(0));
        Tensor Run(ulong seed)
        {
            using var generator = new Generator(seed);
            var noise = sampler.InitialNoise(Shape, generator, ScalarType.Float32, CPU);
            return sampler.Sample(noise, plan, prompts, eta: 0.5, generator: generator);
        }
        Assert.True(Run(42).SameAs(Run(42)));
        Assert.False(Run(42).allclose(Run(43)));
    }

    [Fact]
    public void ProbePlanSwitchesCaptionsAndCustomizedPlanSwitchesAdapters()
    {
        using var scope = NewDisposeScope();
        var switcher = new FlagSwitch();
        var denoiser = new RecordingDenoiser(switcher);
        var scheduler = DdimScheduler.FromPretrained(Path.Combine(Fixtures.Root, "scheduler_cogvideox2b_ddim"));
        var sampler = new VideoSampler(denoiser, scheduler, switcher);
        scheduler.SetTimesteps(25);
        var latents = randn(Shape);
        var progress = new List<SamplerProgress>();

        sampler.Sample(latents, TimestepPlan.Probe(scheduler.Timesteps, 700, 0, 1),
            new SamplingPrompts(Caption(1), Edited: Caption(2)), progress: progress.Add);
        Assert.Equal(scheduler.Timesteps, denoiser.Calls.Select(c => c.Timestep));
        Assert.All(denoiser.Calls, c => Assert.Equal(c.Timestep <= 700 ? 2f : 1f, c.ConditionMeans[0]));
        Assert.Equal(Enumerable.Range(1, 25), progress.Select(p => p.Index));

        denoiser.Calls.Clear();
        sampler.Sample(latents, TimestepPlan.Customized(scheduler.Timesteps, 950, 1), new SamplingPrompts(Caption(1)));
        Assert.All(denoiser.Calls, c => Assert.Equal(c.Timestep >= 950, c.AdaptersOn));
        Assert.Equal(2, denoiser.Calls.Count(c => c.AdaptersOn)); // 999 and 959
        Assert.False(switcher.Active); // restored after sampling
    }

    [Fact]
    public void BadRequestsAreClearErrors()
    {
        using var scope = NewDisposeScope();
        var scheduler = DdimScheduler.FromPretrained(Path.Combine(Fixtures.Root, "scheduler_modelscope_ddim"));
        var sampler = new VideoSampler(new RecordingDenoiser(), scheduler);
        scheduler.SetTimesteps(25);
        var latents = randn(Shape);
        var source = new SamplingPrompts(Caption(1));
        Assert.Contains("Edited", Assert.Throws<ArgumentException>(() =>
            sampler.Sample(latents, TimestepPlan.Probe(scheduler.Timesteps, 700, 0, 1), source)).Message);
        Assert.Contains("Negative", Assert.Throws<ArgumentException>(() =>
            sampler.Sample(latents, TimestepPlan.Plain(scheduler.Timesteps, 9), source)).Message);
        Assert.Contains("adapter switch", Assert.Throws<ArgumentException>(() =>
            sampler.Sample(latents, TimestepPlan.Customized(scheduler.Timesteps, 500, 1), source)).Message);
        Assert.Contains("not the scheduler's", Assert.Throws<ArgumentException>(() =>
            sampler.Sample(latents, TimestepPlan.Plain([999L, 500L], 1), source)).Message);
        Assert.Contains("(batch, channels, frames, height, width)", Assert.Throws<ArgumentException>(() =>
            sampler.Sample(randn(new long[] { 1, 4, 4, 4 }), TimestepPlan.Plain(scheduler.Timesteps, 1), source)).Message);
        Assert.Throws<ArgumentException>(() => sampler.Sample(latents, TimestepPlan.Plain(scheduler.Timesteps, 1), new SamplingPrompts(Caption(1, batch: 3))));
    }
}
