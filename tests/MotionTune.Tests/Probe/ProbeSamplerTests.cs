using MotionTune.Pipelines;
using MotionTune.Probe;
using MotionTune.Schedulers;
using MotionTune.Tests.Parity;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Probe;

/// <summary>
/// The probe's branching sampler against the definition (every window sampled from x_T along its own
/// <see cref="TimestepPlan.Probe"/>), on a cheap stand-in denoiser so the paper's full grid with 50 steps runs in a test.
/// </summary>
public sealed class ProbeSamplerTests(ITestOutputHelper output)
{
    /// <summary>A denoiser whose output depends on the latents, the timestep and the text, and which counts its calls.</summary>
    private sealed class CountingDenoiser : IVideoDenoiser
    {
        public int Calls { get; private set; }

        public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
        {
            Calls++;
            using var scope = NewDisposeScope();
            var text = condition.HiddenStates.mean([1, 2]).reshape(-1, 1, 1, 1, 1);
            var t = timesteps.to(ScalarType.Float32).reshape(-1, 1, 1, 1, 1) / 1000;
            return (latents * (0.5 + t) + text).tanh().MoveToOuterDisposeScope();
        }
    }

    private static (VideoSampler Sampler, CountingDenoiser Denoiser) Sampler()
    {
        var denoiser = new CountingDenoiser();
        var scheduler = DdimScheduler.FromPretrained(Path.Combine(Fixtures.Root, "scheduler_modelscope_ddim"));
        return (new VideoSampler(denoiser, scheduler), denoiser);
    }

    private static SamplingPrompts Prompts(double guidance)
    {
        var generator = new Generator(11, CPU);
        var c = new TextCondition(randn([1, 3, 4], generator: generator));
        var edited = new TextCondition(randn([1, 3, 4], generator: generator));
        var negative = new TextCondition(randn([1, 3, 4], generator: generator));
        return new SamplingPrompts(c, edited, guidance > 1 ? negative : null);
    }

    private static Dictionary<ProbeCell, Tensor> Collect(ProbeSampler sampler, Tensor noisy, SamplingPrompts prompts, IReadOnlyList<ProbeCell> cells,
        bool cached, out Tensor reconstruction, out ProbeSamplingCost cost)
    {
        var samples = new Dictionary<ProbeCell, Tensor>();
        Tensor? recon = null;
        cost = sampler.Run(noisy, prompts, cells, cached,
            latents => recon = latents.clone().DetachFromDisposeScope(),
            branch => { foreach (var cell in branch.Cells) samples.Add(cell, branch.Latents.clone().DetachFromDisposeScope()); });
        reconstruction = recon!;
        return samples;
    }

    [Theory]
    [InlineData(50, 100, 1.0)]   // the paper's grid: no empty or shared windows
    [InlineData(4, 100, 1.0)]    // few steps: many windows without a step, many with the same steps
    [InlineData(7, 250, 4.0)]    // classifier-free guidance
    public void CachedSamplesEqualSamplingEveryWindowFromNoise(int steps, int interval, double guidance)
    {
        var (video, denoiser) = Sampler();
        var sampler = new ProbeSampler(video, steps, guidance);
        var cells = new ProbeGrid(interval).Cells;
        var prompts = Prompts(guidance);
        using var noisy = randn([1, 2, 3, 4, 4], generator: new Generator(5, CPU));

        var cached = Collect(sampler, noisy, prompts, cells, cached: true, out var reconCached, out var costCached);
        int cachedCalls = denoiser.Calls;
        var uncached = Collect(sampler, noisy, prompts, cells, cached: false, out var reconUncached, out var costUncached);

        Assert.True(reconCached.SameAs(reconUncached));
        Assert.Equal(cells.Count, cached.Count);
        foreach (var cell in cells)
            Assert.True(cached[cell].SameAs(uncached[cell]), $"window {cell}: the cached sample differs from the one sampled from x_T");
        Assert.Equal(sampler.Cost(cells, cached: true), costCached);
        Assert.Equal(costCached.Steps, cachedCalls);
        Assert.Equal(steps * (1 + cells.Count), costUncached.Steps);
        Assert.Equal(costCached.UncachedSteps, costUncached.Steps);
        output.WriteLine($"{steps} steps, interval {interval}: cached {costCached.Steps} of {costCached.UncachedSteps} steps ({costCached.Fraction:P0}), {costCached.Samples} distinct samples for {cells.Count} windows");
    }

    [Fact]
    public void ThePapersGridTakesFortyOnePercentOfTheSteps()
    {
        var (video, _) = Sampler();
        var cost = new ProbeSampler(video, 50, 1).Cost(ProbeGrid.Default.Cells, cached: true);
        // 50 (reconstruction) + 275 (c' paths: 5 j steps for tau_start = 100 j) + 825 (tails: 5 m steps for each of the 10 - m windows ending at 100 m)
        Assert.Equal(1150, cost.Steps);
        Assert.Equal(2800, cost.UncachedSteps);
        Assert.Equal(55, cost.Samples);
    }

    [Fact]
    public void WindowsFollowTheProbePlansInclusiveBounds()
    {
        var (video, _) = Sampler();
        var sampler = new ProbeSampler(video, 10, 1); // timesteps 901, 801, ..., 1
        Assert.Equal(901, sampler.Timesteps[0]);
        Assert.Equal(0, sampler.WindowStart(1000));
        Assert.Equal(0, sampler.WindowStart(901)); // inclusive: t = 901 is inside a window starting at 901
        Assert.Equal(1, sampler.WindowStart(900));
        Assert.Equal(4, sampler.WindowStart(600));  // 901, 801, 701, 601 are above 600
        Assert.Equal(5, sampler.WindowEnd(500));    // 901 … 501 are at least 500
        Assert.Equal(10, sampler.WindowEnd(0));
        var plan = TimestepPlan.Probe(sampler.Timesteps, 600, 500, 1);
        var edited = Enumerable.Range(0, plan.Count).Where(i => plan[i].Prompt == PromptChoice.Edited).ToArray();
        Assert.Equal(Enumerable.Range(sampler.WindowStart(600), sampler.WindowEnd(500) - sampler.WindowStart(600)), edited);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CancellationStopsAtTheNextStep(bool cached)
    {
        var (video, denoiser) = Sampler();
        var sampler = new ProbeSampler(video, 10, 1);
        using var noisy = randn([1, 2, 3, 4, 4], generator: new Generator(5, CPU));
        using var cancel = new CancellationTokenSource();
        int steps = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => sampler.Run(noisy, Prompts(1), new ProbeGrid(250).Cells, cached, _ => { }, _ => { },
            stepDone: () => { if (++steps == 3) cancel.Cancel(); }, cancellation: cancel.Token));
        Assert.Equal(3, steps);
        Assert.Equal(3, denoiser.Calls);
    }
}
