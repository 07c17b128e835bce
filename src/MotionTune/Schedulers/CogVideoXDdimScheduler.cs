using static TorchSharp.torch;

namespace MotionTune.Schedulers;

/// <summary>
/// diffusers' <c>CogVideoXDDIMScheduler</c>: DDIM on an SD3-style SNR-shifted schedule, optionally rescaled to zero
/// terminal SNR on ᾱ directly, stepped in the form x_s = a·x_t + b·x̂₀. Like diffusers, its step is deterministic:
/// η, the generator and clipping are not used.
/// </summary>
/// <remarks>
/// <para><b>Inversion.</b> diffusers has no inverse for this scheduler, and <c>DDIMInverseScheduler</c> built from its
/// config recomputes ᾱ without the SNR shift (and rescales β, not ᾱ), so it walks a different schedule than the sampler.
/// <see cref="InverseStep"/> uses this scheduler's own ᾱ and, for v-prediction, the exact inverse of <see cref="Step"/>.</para>
/// <para><b>Derivation (v-prediction).</b> Write √ᾱ = cos φ and √(1−ᾱ) = sin φ, so φ runs from 0 (clean) to π/2 (zero
/// SNR). A step from level t to the less noisy level s computes x̂₀ = cos φ_t·x_t − sin φ_t·v and
/// x_s = a·x_t + b·x̂₀ with a = sin φ_s / sin φ_t and b = cos φ_s − cos φ_t·a. Substituting,
/// x_s = (a + b cos φ_t)·x_t − b sin φ_t·v = cos Δ·x_t − sin Δ·v, with Δ = φ_t − φ_s:
/// the step rotates the pair (x, v) by Δ and keeps the x component. DDIM inversion holds the model output fixed
/// (v evaluated on x_s with the label t, as diffusers' inversion loops call the model), and solving for x_t gives
/// <c>x_t = (x_s + sin Δ·v) / cos Δ</c>, where cos Δ = √(ᾱ_t ᾱ_s) + √((1−ᾱ_t)(1−ᾱ_s)) and
/// sin Δ = √((1−ᾱ_t) ᾱ_s) − √(ᾱ_t (1−ᾱ_s)). Feeding the same v back to <see cref="Step"/> returns x_s exactly.
/// (<c>DDIMInverseScheduler</c> instead reads v at level s and recombines at t, which gives cos Δ·x_s + sin Δ·v: a
/// rotation the other way, not the inverse.)</para>
/// <para><b>Zero terminal SNR.</b> With <c>rescale_betas_zero_snr</c>, ᾱ at t = T−1 is exactly 0 (φ = π/2). The last
/// inversion step lands there with cos Δ = sin φ_s = √(1−ᾱ_s), which is positive whenever the step starts from a noisy
/// level, so x_{T−1} = (x_s + √ᾱ_s·v) / √(1−ᾱ_s) is finite: the inverted latent is the model's pure-noise estimate.
/// Sampling from it needs no division either: at ᾱ = 0 the step reads x̂₀ = −v. Only a single step straight from the
/// clean level (ᾱ = 1) to ᾱ = 0 has no inverse (cos Δ = 0: that step ignores x_t entirely); it is rejected. For ε- and
/// x₀-prediction the inverse is <c>DDIMInverseScheduler</c>'s formula on this scheduler's ᾱ, which is already the
/// fixed-output inverse; ε-prediction is undefined at ᾱ = 0 (x̂₀ divides by √ᾱ), in sampling and inversion alike.</para>
/// </remarks>
public sealed class CogVideoXDdimScheduler : DdimScheduler
{
    /// <summary>Builds the scheduler from its config.</summary>
    /// <exception cref="ArgumentException">An unknown option value or bad sizes.</exception>
    public CogVideoXDdimScheduler(CogVideoXDdimSchedulerConfig config, string? source = null) : base(config, source) { }

    /// <summary>The config, with <see cref="CogVideoXDdimSchedulerConfig.SnrShiftScale"/>.</summary>
    public new CogVideoXDdimSchedulerConfig Config => (CogVideoXDdimSchedulerConfig)base.Config;

    /// <summary>β (float64 for <c>scaled_linear</c>, as diffusers) → ᾱ → SNR shift → optional zero-SNR rescale of ᾱ.</summary>
    protected override Tensor BuildAlphasCumprod(DdimSchedulerConfig config)
    {
        var cog = (CogVideoXDdimSchedulerConfig)config;
        if (cog.SnrShiftScale <= 0) throw new ArgumentException($"{Source}: snr_shift_scale must be positive, not {cog.SnrShiftScale}.");
        var betas = NoiseSchedule.Betas(config, ScalarType.Float64, Source);
        var alphasCumprod = (1.0 - betas).cumprod(0);
        // SNR shift following SD3: SNR = ᾱ/(1−ᾱ) is divided by s.
        alphasCumprod = alphasCumprod / (cog.SnrShiftScale + (1 - cog.SnrShiftScale) * alphasCumprod);
        if (config.RescaleBetasZeroSnr) alphasCumprod = NoiseSchedule.RescaleAlphasCumprodZeroSnr(alphasCumprod);
        return alphasCumprod;
    }

    /// <summary>
    /// One sampling step from <paramref name="timestep"/> to <paramref name="timestep"/> − T/n, as
    /// <c>CogVideoXDDIMScheduler.step</c>: x_{t−1} = a·x_t + b·x̂₀ with a = √((1−ᾱ_{t−1})/(1−ᾱ_t)),
    /// b = √ᾱ_{t−1} − √ᾱ_t·a. <paramref name="eta"/>, <paramref name="generator"/>, <paramref name="varianceNoise"/> and
    /// <paramref name="useClippedModelOutput"/> are accepted for interchangeability and not used, as in diffusers.
    /// </summary>
    public override SchedulerStepOutput Step(Tensor modelOutput, long timestep, Tensor sample, double eta = 0,
        Generator? generator = null, Tensor? varianceNoise = null, bool useClippedModelOutput = false)
    {
        RequireTimesteps();
        using var scope = NewDisposeScope();

        // 1. previous step value (= t − T/n)
        long prevTimestep = timestep - base.Config.NumTrainTimesteps / NumInferenceSteps;

        // 2. alphas, betas
        double alphaProdT = AlphaCumprodAt(timestep);
        double alphaProdTPrev = AlphaCumprodAt(prevTimestep);
        double betaProdT = 1 - alphaProdT;

        // 3. predicted x0
        var (predOriginalSample, _) = Predict(modelOutput, sample, alphaProdT, betaProdT);

        // 4. x_{t-1} = a_t x_t + b_t x0
        double aT = Math.Sqrt((1 - alphaProdTPrev) / (1 - alphaProdT));
        double bT = Math.Sqrt(alphaProdTPrev) - Math.Sqrt(alphaProdT) * aT;
        var prevSample = sample * aT + predOriginalSample * bT;
        return new SchedulerStepOutput(prevSample.MoveToOuterDisposeScope(), predOriginalSample.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One inversion step to <paramref name="timestep"/> from <paramref name="timestep"/> − T/n on this scheduler's own
    /// (shifted, rescaled) ᾱ; for v-prediction the exact inverse of <see cref="Step"/> derived in the class remarks.
    /// <paramref name="modelOutput"/> is the denoiser's output for <paramref name="sample"/> labelled with <paramref name="timestep"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A v-prediction step from ᾱ = 1 straight to ᾱ = 0 (no inverse exists).</exception>
    public override SchedulerStepOutput InverseStep(Tensor modelOutput, long timestep, Tensor sample)
    {
        RequireTimesteps();
        using var scope = NewDisposeScope();

        // 1. the current level s = t − T/n; t is where this step lands
        long current = Math.Min(timestep - base.Config.NumTrainTimesteps / NumInferenceSteps, base.Config.NumTrainTimesteps - 1);

        // 2. alphas
        double alphaProdS = current >= 0 ? AlphaCumprodAt(current) : InitialAlphaCumprod;
        double alphaProdT = AlphaCumprodAt(timestep);

        Tensor prevSample, predOriginalSample;
        if (PredictionType == PredictionType.VPrediction)
        {
            // 3. undo the rotation x_s = cosΔ·x_t − sinΔ·v
            double cosDelta = Math.Sqrt(alphaProdT * alphaProdS) + Math.Sqrt((1 - alphaProdT) * (1 - alphaProdS));
            double sinDelta = Math.Sqrt((1 - alphaProdT) * alphaProdS) - Math.Sqrt(alphaProdT * (1 - alphaProdS));
            if (cosDelta <= 1e-12)
                throw new InvalidOperationException(
                    $"{Source}: the inversion step to t = {timestep} goes from ᾱ = {alphaProdS} straight to ᾱ = {alphaProdT}; " +
                    "a v-prediction DDIM step across the whole schedule discards its input and cannot be inverted. Use more steps.");
            prevSample = (sample + modelOutput * sinDelta) / cosDelta;
            // 4. the x0 that the sampling step from x_t will read
            predOriginalSample = prevSample * Math.Sqrt(alphaProdT) - modelOutput * Math.Sqrt(1 - alphaProdT);
        }
        else
        {
            // 3. x0 and epsilon at the current level, 4. recombined at the target level (DDIMInverseScheduler's update)
            var (x0, epsilon) = Predict(modelOutput, sample, alphaProdS, 1 - alphaProdS);
            prevSample = x0 * Math.Sqrt(alphaProdT) + epsilon * Math.Sqrt(1 - alphaProdT);
            predOriginalSample = x0;
        }
        return new SchedulerStepOutput(prevSample.MoveToOuterDisposeScope(), predOriginalSample.MoveToOuterDisposeScope());
    }
}
