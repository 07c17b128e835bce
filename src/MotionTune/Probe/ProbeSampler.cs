using MotionTune.Pipelines;
using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Probe;

/// <summary>Probe windows that come out as one sample: the same denoising steps use c′ in each.</summary>
/// <param name="Cells">The windows.</param>
/// <param name="Latents">Their final latents (borrowed: valid during the callback only).</param>
public sealed record ProbeBranch(IReadOnlyList<ProbeCell> Cells, Tensor Latents);

/// <summary>What a probe sampling run cost, in denoising steps (model evaluations, one per step, CFG batched).</summary>
/// <param name="Steps">Steps run.</param>
/// <param name="UncachedSteps">Steps that running the reconstruction and every window from x_T would take.</param>
/// <param name="Samples">Distinct final samples (windows with the same steps share one).</param>
public sealed record ProbeSamplingCost(int Steps, int UncachedSteps, int Samples)
{
    /// <summary><see cref="Steps"/> / <see cref="UncachedSteps"/>.</summary>
    public double Fraction => UncachedSteps == 0 ? 1 : Steps / (double)UncachedSteps;
}

/// <summary>
/// Samples the probe's windows from an inverted x_T (paper section 3.2): the reconstruction (c at every step) and, per
/// window (τ_start, τ_end), a sample with c′ at the steps with τ_end ≤ t ≤ τ_start and c elsewhere
/// (<see cref="TimestepPlan.Probe"/>).
/// <para>
/// <b>Branching.</b> Sampling runs noisiest first, so every window's sample follows the reconstruction's path until its
/// first step with t ≤ τ_start, and windows with the same τ_start follow one c′ path until their first step with t &lt;
/// τ_end. The cached run walks the reconstruction once, keeping its latents where a window starts; from each such
/// point it walks the c′ path once, and where a window ends it branches off a c-only tail to t = 0. Each step costs what
/// it costs in the uncached run and takes the same inputs, so the samples are bit-for-bit those of sampling every
/// window from x_T on its own (<c>cached: false</c>, which runs exactly that, for checking); the tests compare the two.
/// For the paper's grid (interval 100, 55 windows) and 50 DDIM steps the cached run takes 1150 steps instead of 2800
/// (41 %): 50 for the reconstruction, 275 along the c′ paths and 825 for the tails. Windows with no sampling step inside
/// them are the reconstruction itself; windows with the same steps share one sample.
/// </para>
/// <para>Memory: one latent per distinct window start (at most 10 on the paper's grid) besides the walk's own.</para>
/// </summary>
public sealed class ProbeSampler
{
    /// <summary>The model and scheduler.</summary>
    public VideoSampler Sampler { get; }

    /// <summary>DDIM steps.</summary>
    public int Steps { get; }

    /// <summary>Classifier-free guidance scale of every step (1: none).</summary>
    public double GuidanceScale { get; }

    /// <summary>The sampling timesteps, noisiest first.</summary>
    public IReadOnlyList<long> Timesteps { get; }

    /// <summary>A probe sampler over <paramref name="sampler"/> with <paramref name="steps"/> DDIM steps.</summary>
    /// <exception cref="ArgumentException">Non-positive steps, or a negative or non-finite guidance scale.</exception>
    public ProbeSampler(VideoSampler sampler, int steps, double guidanceScale)
    {
        if (steps < 1) throw new ArgumentException($"--steps must be positive, not {steps}.", nameof(steps));
        if (!double.IsFinite(guidanceScale) || guidanceScale < 0) throw new ArgumentException($"--guidance must be a non-negative number, not {guidanceScale}.", nameof(guidanceScale));
        (Sampler, Steps, GuidanceScale) = (sampler, steps, guidanceScale);
        sampler.Scheduler.SetTimesteps(steps);
        Timesteps = sampler.Scheduler.Timesteps.ToArray();
    }

    /// <summary>Index of the first step inside a window starting at <paramref name="tauStart"/> (the first with t ≤ τ_start).</summary>
    public int WindowStart(int tauStart) => Timesteps.Count(t => t > tauStart);

    /// <summary>Index of the first step after a window ending at <paramref name="tauEnd"/> (the first with t &lt; τ_end).</summary>
    public int WindowEnd(int tauEnd) => Timesteps.Count(t => t >= tauEnd);

    /// <summary>The steps a run over <paramref name="cells"/> takes, cached or not, without running it.</summary>
    public ProbeSamplingCost Cost(IReadOnlyList<ProbeCell> cells, bool cached)
    {
        int uncached = Steps * (1 + cells.Count);
        if (!cached) return new ProbeSamplingCost(uncached, uncached, cells.Count);
        var windows = cells.Select(c => (Start: WindowStart(c.TauStart), End: WindowEnd(c.TauEnd))).Where(w => w.End > w.Start).Distinct().ToArray();
        int edited = windows.GroupBy(w => w.Start).Sum(g => g.Max(w => w.End) - g.Key);
        int tails = windows.Sum(w => Steps - w.End);
        bool anyEmpty = cells.Any(c => WindowEnd(c.TauEnd) <= WindowStart(c.TauStart));
        return new ProbeSamplingCost(Steps + edited + tails, uncached, windows.Length + (anyEmpty ? 1 : 0));
    }

    /// <summary>
    /// Samples the reconstruction and every window of <paramref name="cells"/> from <paramref name="noisy"/> (x_T, the
    /// inversion's end), without gradients. <paramref name="reconstruction"/> gets the reconstruction's final latents
    /// first; then <paramref name="branch"/> gets each distinct sample with the windows it belongs to.
    /// </summary>
    /// <param name="noisy">x_T (B, C, F, H, W); not modified.</param>
    /// <param name="prompts">c as <see cref="SamplingPrompts.Source"/>, c′ as <see cref="SamplingPrompts.Edited"/>, and the negative side when guided.</param>
    /// <param name="cells">The windows.</param>
    /// <param name="cached">Branch from cached latents (the default way), or sample every window from x_T.</param>
    /// <param name="reconstruction">Receives the reconstruction (borrowed).</param>
    /// <param name="branch">Receives each sample (borrowed).</param>
    /// <param name="stepDone">Called after each denoising step.</param>
    /// <param name="cancellation">Checked before each step.</param>
    /// <returns>The steps it took.</returns>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public ProbeSamplingCost Run(Tensor noisy, SamplingPrompts prompts, IReadOnlyList<ProbeCell> cells, bool cached,
        Action<Tensor> reconstruction, Action<ProbeBranch> branch, Action? stepDone = null, CancellationToken cancellation = default)
    {
        if (prompts.Edited is null) throw new ArgumentException("The probe needs the edited caption c′ (SamplingPrompts.Edited).", nameof(prompts));
        if (GuidanceScale > 1 && prompts.Negative is null)
            throw new ArgumentException("Guided probe sampling needs a Negative condition.", nameof(prompts));
        using var _ = no_grad();
        bool? adaptersBefore = Sampler.Adapters?.Active;
        if (Sampler.Adapters is not null) Sampler.Adapters.Active = false; // the probe measures the base model
        try
        {
            int steps = 0;
            void Done()
            {
                steps++;
                stepDone?.Invoke();
            }
            int samples = cached
                ? RunCached(noisy, prompts, cells, reconstruction, branch, Done, cancellation)
                : RunUncached(noisy, prompts, cells, reconstruction, branch, Done, cancellation);
            return new ProbeSamplingCost(steps, Steps * (1 + cells.Count), samples);
        }
        finally
        {
            if (Sampler.Adapters is not null) Sampler.Adapters.Active = adaptersBefore!.Value;
        }
    }

    // Every window from x_T along its own TimestepPlan.Probe: the definition the cached run must reproduce.
    private int RunUncached(Tensor noisy, SamplingPrompts prompts, IReadOnlyList<ProbeCell> cells, Action<Tensor> reconstruction,
        Action<ProbeBranch> branch, Action done, CancellationToken cancellation)
    {
        void Progress(SamplerProgress _)
        {
            done();
            cancellation.ThrowIfCancellationRequested();
        }
        cancellation.ThrowIfCancellationRequested();
        using (var plain = Sampler.Sample(noisy, TimestepPlan.Plain(Timesteps, GuidanceScale), prompts, progress: Progress))
            reconstruction(plain);
        foreach (var cell in cells)
        {
            using var sample = Sampler.Sample(noisy, TimestepPlan.Probe(Timesteps, cell.TauStart, cell.TauEnd, GuidanceScale), prompts, progress: Progress);
            branch(new ProbeBranch([cell], sample));
        }
        return cells.Count;
    }

    private int RunCached(Tensor noisy, SamplingPrompts prompts, IReadOnlyList<ProbeCell> cells, Action<Tensor> reconstruction,
        Action<ProbeBranch> branch, Action done, CancellationToken cancellation)
    {
        Sampler.Scheduler.SetTimesteps(Steps);
        var windows = cells.Select(c => (Cell: c, Start: WindowStart(c.TauStart), End: WindowEnd(c.TauEnd))).ToArray();
        var empty = windows.Where(w => w.End <= w.Start).Select(w => w.Cell).ToArray();
        var byStart = windows.Where(w => w.End > w.Start).GroupBy(w => w.Start).OrderBy(g => g.Key).ToArray();

        Tensor Step(Tensor x, int i, TextCondition condition)
        {
            cancellation.ThrowIfCancellationRequested();
            Tensor next;
            using (NewDisposeScope())
            {
                var output = Sampler.PredictGuided(x, Timesteps[i], condition, prompts.Negative, GuidanceScale);
                next = Sampler.Scheduler.Step(output, Timesteps[i], x).PrevSample.MoveToOuterDisposeScope();
            }
            done();
            return next;
        }

        // Walks from x (latents before step `from`) to the end with `condition`; x itself is never disposed here.
        Tensor Walk(Tensor x, int from, int to, TextCondition condition, Func<int, Tensor, bool>? keep = null)
        {
            var current = x;
            for (int i = from; i < to; i++)
            {
                var next = Step(current, i, condition);
                if (!ReferenceEquals(current, x) && !(keep?.Invoke(i, current) ?? false)) current.Dispose();
                current = next;
            }
            return current;
        }

        // 1. The reconstruction, keeping its latents where windows start.
        var starts = new Dictionary<int, Tensor>();
        if (byStart.Any(g => g.Key == 0)) starts[0] = noisy;
        var wanted = byStart.Select(g => g.Key).ToHashSet();
        int samples = 0;
        Tensor? recon = null;
        try
        {
            recon = Walk(noisy, 0, Steps, prompts.Source, (i, latents) =>
            {
                // `latents` are those before step i: where windows start at i, they branch from here.
                if (!wanted.Contains(i)) return false;
                starts[i] = latents;
                return true;
            });
            reconstruction(recon);
            if (empty.Length > 0)
            {
                branch(new ProbeBranch(empty, recon));
                samples++;
            }

            // 2. Per window start: one c′ path, branching a c tail off where windows end.
            foreach (var group in byStart)
            {
                var endings = group.GroupBy(w => w.End).ToDictionary(g => g.Key, g => g.Select(w => w.Cell).ToArray());
                int last = endings.Keys.Max();
                var start = starts[group.Key];
                var current = start;
                for (int i = group.Key; ; i++)
                {
                    if (endings.TryGetValue(i, out var ending))
                    {
                        var tail = Walk(current, i, Steps, prompts.Source);
                        try { branch(new ProbeBranch(ending, tail)); }
                        finally { if (!ReferenceEquals(tail, current)) tail.Dispose(); }
                        samples++;
                    }
                    if (i == last) break;
                    var next = Step(current, i, prompts.Edited!);
                    if (!ReferenceEquals(current, start)) current.Dispose();
                    current = next;
                }
                if (!ReferenceEquals(current, start)) current.Dispose();
            }
            return samples;
        }
        finally
        {
            foreach (var latents in starts.Values) if (!ReferenceEquals(latents, noisy)) latents.Dispose();
            if (recon is not null && !ReferenceEquals(recon, noisy)) recon.Dispose();
        }
    }
}
