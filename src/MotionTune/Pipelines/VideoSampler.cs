using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>The captions a sampling run may use.</summary>
/// <param name="Source">c: the one prompt of plain and customized sampling; the video's own caption in the probe.</param>
/// <param name="Edited">c′: the probe's edited caption; needed when the plan uses it.</param>
/// <param name="Negative">
/// The unconditional side of classifier-free guidance (the negative prompt, or the empty prompt's embedding when there is
/// none, as diffusers uses); needed when a step's guidance scale is above 1.
/// </param>
public sealed record SamplingPrompts(TextCondition Source, TextCondition? Edited = null, TextCondition? Negative = null);

/// <summary>Progress after one step of sampling or inversion.</summary>
/// <param name="Index">Steps done (1 … <paramref name="Count"/>).</param>
/// <param name="Count">Steps in the run.</param>
/// <param name="Timestep">The step's timestep.</param>
/// <param name="Latents">The latents after the step (borrowed: valid during the callback only).</param>
/// <param name="Plan">The planned step (sampling only).</param>
public sealed record SamplerProgress(int Index, int Count, long Timestep, Tensor Latents, PlannedStep? Plan);

/// <summary>Settings of a DDIM inversion.</summary>
public sealed record InversionOptions
{
    /// <summary>Classifier-free guidance scale; the default 1 is the usual unguided inversion with the caption.</summary>
    public double GuidanceScale { get; init; } = 1;
    /// <summary>The unconditional side when <see cref="GuidanceScale"/> is above 1.</summary>
    public TextCondition? Negative { get; init; }
    /// <summary>
    /// Extra model evaluations per step that re-evaluate the model at the current estimate of x_t instead of x_s
    /// (fixed-point refinement), so sampling back with the same condition retraces the inversion more exactly. 0 is plain
    /// DDIM inversion (the paper's equation 2).
    /// </summary>
    public int FixedPointIterations { get; init; }
    /// <summary>Whether the adapters are on during inversion (off: the base model inverts).</summary>
    public bool AdaptersActive { get; init; }
    /// <summary>Called after each step.</summary>
    public Action<SamplerProgress>? Progress { get; init; }
}

/// <summary>
/// The latents of a DDIM inversion: <see cref="Latents"/>[i] is the latent at <see cref="Timesteps"/>[i] (cleanest
/// first); <see cref="Final"/>, at the noisiest timestep, is where sampling starts to reconstruct or edit the video.
/// </summary>
public sealed class InversionTrajectory(IReadOnlyList<long> timesteps, IReadOnlyList<Tensor> latents) : IDisposable
{
    /// <summary>Inversion timesteps, cleanest first.</summary>
    public IReadOnlyList<long> Timesteps { get; } = timesteps;
    /// <summary>The latent after each inversion step.</summary>
    public IReadOnlyList<Tensor> Latents { get; } = latents;
    /// <summary>The most noisy latent (at the first sampling timestep).</summary>
    public Tensor Final => Latents[^1];

    /// <summary>Disposes the latents.</summary>
    public void Dispose()
    {
        foreach (var t in Latents) t.Dispose();
    }
}

/// <summary>
/// The model-agnostic sampling loop: DDIM sampling along a <see cref="TimestepPlan"/> (prompt, guidance and adapters per
/// step) with classifier-free guidance batched as diffusers does, and the DDIM inversion loop. Latents keep their dtype
/// through the loop (float32 latents give the most precise trajectory; the denoiser casts to its own dtype).
/// </summary>
public sealed class VideoSampler(IVideoDenoiser denoiser, DdimScheduler scheduler, IAdapterSwitch? adapters = null)
{
    /// <summary>The model.</summary>
    public IVideoDenoiser Denoiser { get; } = denoiser;
    /// <summary>The scheduler; <see cref="Sample"/> and <see cref="Invert"/> set its timesteps.</summary>
    public DdimScheduler Scheduler { get; } = scheduler;
    /// <summary>The adapter switch the plan drives, if the model has adapters.</summary>
    public IAdapterSwitch? Adapters { get; } = adapters;

    /// <summary>
    /// Starting noise for sampling: N(0, 1) · <c>init_noise_sigma</c>, drawn on the generator's device (a CPU generator
    /// gives the same latents on every device).
    /// </summary>
    public Tensor InitialNoise(long[] shape, Generator? generator, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var noise = RandomTensors.Randn(shape, generator, dtype, device);
        return (Scheduler.InitNoiseSigma == 1 ? noise : noise * Scheduler.InitNoiseSigma).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Denoises <paramref name="latents"/> (B, C, F, H, W) along <paramref name="plan"/>: fresh noise from
    /// <see cref="InitialNoise"/>, or an inversion's <see cref="InversionTrajectory.Final"/>. Returns the final latents.
    /// </summary>
    /// <param name="latents">Latents at the plan's first timestep; not modified.</param>
    /// <param name="plan">Timesteps (must be the scheduler's for <c>plan.Count</c> steps), prompt, guidance, adapters.</param>
    /// <param name="prompts">The captions the plan refers to.</param>
    /// <param name="eta">DDIM η (0: deterministic). CogVideoX's scheduler ignores it, as in diffusers.</param>
    /// <param name="generator">Draws the η noise.</param>
    /// <param name="progress">Called after each step.</param>
    /// <exception cref="ArgumentException">Bad latents, a plan that does not match the scheduler, or a missing caption or adapter switch.</exception>
    public Tensor Sample(Tensor latents, TimestepPlan plan, SamplingPrompts prompts, double eta = 0, Generator? generator = null,
        Action<SamplerProgress>? progress = null)
    {
        CheckLatents(latents);
        if (plan.UsesEditedPrompt && prompts.Edited is null)
            throw new ArgumentException("The plan uses the edited caption c′ but no Edited condition was given.", nameof(prompts));
        if (plan.UsesGuidance && prompts.Negative is null)
            throw new ArgumentException(
                "The plan uses classifier-free guidance (scale > 1) but no Negative condition was given (use the empty prompt's embedding).", nameof(prompts));
        if (plan.UsesAdapters && Adapters is null)
            throw new ArgumentException("The plan turns adapters on, but this sampler has no adapter switch.", nameof(plan));
        if (eta > 0 && Scheduler is CogVideoXDdimScheduler)
            Log.Warning($"eta = {eta} is ignored: CogVideoXDDIMScheduler's step is deterministic (as in diffusers).");

        Scheduler.SetTimesteps(plan.Count);
        if (!Scheduler.Timesteps.SequenceEqual(plan.Timesteps))
            throw new ArgumentException(
                $"The plan's timesteps ({string.Join(", ", plan.Timesteps)}) are not the scheduler's for {plan.Count} steps " +
                $"({string.Join(", ", Scheduler.Timesteps)}); build the plan from the scheduler's timesteps.", nameof(plan));

        bool? adaptersBefore = Adapters?.Active;
        try
        {
            var current = latents;
            for (int i = 0; i < plan.Count; i++)
            {
                var step = plan[i];
                if (Adapters is not null) Adapters.Active = step.AdaptersActive;
                var condition = step.Prompt == PromptChoice.Edited ? prompts.Edited! : prompts.Source;
                Tensor next;
                using (NewDisposeScope())
                {
                    var modelOutput = PredictGuided(current, step.Timestep, condition, prompts.Negative, step.GuidanceScale);
                    next = Scheduler.Step(modelOutput, step.Timestep, current, eta, generator).PrevSample.MoveToOuterDisposeScope();
                }
                if (!ReferenceEquals(current, latents)) current.Dispose();
                current = next;
                progress?.Invoke(new SamplerProgress(i + 1, plan.Count, step.Timestep, current, step));
            }
            return current;
        }
        finally
        {
            if (Adapters is not null) Adapters.Active = adaptersBefore!.Value;
        }
    }

    /// <summary>
    /// DDIM inversion of clean <paramref name="latents"/> (B, C, F, H, W) with <paramref name="condition"/> over
    /// <paramref name="numInferenceSteps"/> steps, as diffusers' inversion loops run it: at each inversion timestep t the
    /// model sees the current latents labelled t, and the scheduler's <see cref="DdimScheduler.InverseStep"/> moves them to
    /// level t. Sampling from <see cref="InversionTrajectory.Final"/> with the same steps and condition retraces it.
    /// </summary>
    /// <exception cref="ArgumentException">Bad latents or options.</exception>
    public InversionTrajectory Invert(Tensor latents, TextCondition condition, int numInferenceSteps, InversionOptions? options = null)
    {
        options ??= new InversionOptions();
        CheckLatents(latents);
        if (options.GuidanceScale > 1 && options.Negative is null)
            throw new ArgumentException("Inversion with guidance scale > 1 needs a Negative condition.", nameof(options));
        if (options.FixedPointIterations < 0)
            throw new ArgumentException($"FixedPointIterations must be non-negative, not {options.FixedPointIterations}.", nameof(options));
        if (options.AdaptersActive && Adapters is null)
            throw new ArgumentException("Inversion with adapters on needs an adapter switch.", nameof(options));

        Scheduler.SetTimesteps(numInferenceSteps);
        var timesteps = Scheduler.InverseTimesteps;
        var trajectory = new List<Tensor>(timesteps.Count);
        bool? adaptersBefore = Adapters?.Active;
        try
        {
            if (Adapters is not null) Adapters.Active = options.AdaptersActive;
            var current = latents;
            for (int i = 0; i < timesteps.Count; i++)
            {
                long t = timesteps[i];
                Tensor next;
                using (NewDisposeScope())
                {
                    var modelOutput = PredictGuided(current, t, condition, options.Negative, options.GuidanceScale);
                    var estimate = Scheduler.InverseStep(modelOutput, t, current).PrevSample;
                    for (int k = 0; k < options.FixedPointIterations; k++)
                    {
                        // x_t ← inverse step from x_s with the model evaluated where the sampling step will evaluate it: at x_t.
                        modelOutput = PredictGuided(estimate, t, condition, options.Negative, options.GuidanceScale);
                        estimate = Scheduler.InverseStep(modelOutput, t, current).PrevSample;
                    }
                    next = estimate.MoveToOuterDisposeScope();
                }
                trajectory.Add(next);
                current = next;
                options.Progress?.Invoke(new SamplerProgress(i + 1, timesteps.Count, t, current, null));
            }
            return new InversionTrajectory(timesteps, trajectory);
        }
        catch
        {
            foreach (var t in trajectory) t.Dispose();
            throw;
        }
        finally
        {
            if (Adapters is not null) Adapters.Active = adaptersBefore!.Value;
        }
    }

    /// <summary>
    /// The model output at one step with classifier-free guidance: above scale 1 one batched forward of
    /// [<paramref name="negative"/>, <paramref name="condition"/>] (2B samples) combined as
    /// uncond + scale·(cond − uncond); otherwise a single conditional forward. Cast to the latents' dtype.
    /// </summary>
    public Tensor PredictGuided(Tensor latents, long timestep, TextCondition condition, TextCondition? negative, double guidanceScale)
    {
        using var scope = NewDisposeScope();
        long batch = latents.shape[0];
        if (guidanceScale <= 1)
        {
            var output = Denoiser.Predict(latents, full(batch, timestep, ScalarType.Int64, latents.device), condition.ForBatch(batch));
            return CheckOutput(output, latents).MoveToOuterDisposeScope();
        }
        if (negative is null) throw new ArgumentException("Classifier-free guidance needs a negative condition.", nameof(negative));
        var both = TextCondition.Concat(negative.ForBatch(batch), condition.ForBatch(batch));
        var input = cat([latents, latents]);
        var prediction = CheckOutput(Denoiser.Predict(input, full(2 * batch, timestep, ScalarType.Int64, latents.device), both), input);
        var halves = prediction.chunk(2);
        var (uncond, text) = (halves[0], halves[1]);
        return (uncond + (text - uncond) * guidanceScale).MoveToOuterDisposeScope();
    }

    private static Tensor CheckOutput(Tensor output, Tensor input)
    {
        if (!output.shape.SequenceEqual(input.shape))
            throw new InvalidOperationException(
                $"The denoiser returned shape [{string.Join(", ", output.shape)}] for latents [{string.Join(", ", input.shape)}]; " +
                "it must return the prediction in the latents' shape.");
        return output.dtype == input.dtype ? output : output.to(input.dtype);
    }

    private static void CheckLatents(Tensor latents)
    {
        if (latents.dim() != 5)
            throw new ArgumentException(
                $"Latents must be (batch, channels, frames, height, width); got shape [{string.Join(", ", latents.shape)}].", nameof(latents));
    }
}
