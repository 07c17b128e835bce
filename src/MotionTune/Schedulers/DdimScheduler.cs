using static TorchSharp.torch;

namespace MotionTune.Schedulers;

/// <summary>The result of one scheduler step.</summary>
/// <param name="PrevSample">The sample at the next timestep of the loop (x_{t−1} when sampling, x_{t+1} when inverting).</param>
/// <param name="PredOriginalSample">The predicted clean sample x₀ at this step.</param>
public sealed record SchedulerStepOutput(Tensor PrevSample, Tensor PredOriginalSample) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        PrevSample.Dispose();
        PredOriginalSample.Dispose();
    }
}

/// <summary>
/// DDIM (arXiv 2010.02502) as diffusers' <c>DDIMScheduler</c> defines it, together with the inversion step of
/// <c>DDIMInverseScheduler</c> built from the same config. Call <see cref="SetTimesteps"/> first, then <see cref="Step"/>
/// once per timestep of <see cref="Timesteps"/> (noisiest first), or <see cref="InverseStep"/> once per timestep of
/// <see cref="InverseTimesteps"/> (cleanest first).
/// </summary>
/// <remarks>
/// ᾱ (<c>alphas_cumprod</c>) is kept in the dtype diffusers keeps it (float32 here, float64 for CogVideoX's
/// <c>scaled_linear</c>), as exact doubles; step coefficients are computed from those values in double and applied to
/// the sample in the sample's dtype, as PyTorch applies a 0-dim tensor. With <c>rescale_betas_zero_snr</c>,
/// ᾱ_{T−1} = 0 and ε-prediction cannot be read at that step (x̂₀ divides by √ᾱ), exactly as in diffusers: such
/// schedules are meant for v-prediction (see <see cref="CogVideoXDdimScheduler"/> for its inversion).
/// </remarks>
public class DdimScheduler
{
    private readonly double[] _alphasCumprod;

    /// <summary>The config this scheduler was built from.</summary>
    public DdimSchedulerConfig Config { get; }
    /// <summary>What the denoiser predicts.</summary>
    public PredictionType PredictionType { get; }
    /// <summary>How inference timesteps are spread.</summary>
    public TimestepSpacing Spacing { get; }
    /// <summary>Where the config came from (a path, or a description), for error messages.</summary>
    public string Source { get; }

    /// <summary>ᾱ_t for t = 0 … T−1 (exactly the values of diffusers' <c>alphas_cumprod</c>).</summary>
    public IReadOnlyList<double> AlphasCumprod => _alphasCumprod;
    /// <summary>The dtype diffusers keeps <see cref="AlphasCumprod"/> in; <see cref="AddNoise"/> casts through it.</summary>
    public ScalarType AlphasCumprodDtype { get; }
    /// <summary>ᾱ past the last sampling step: 1 when <c>set_alpha_to_one</c>, else ᾱ₀.</summary>
    public double FinalAlphaCumprod { get; }
    /// <summary>
    /// ᾱ of the clean latents an inversion starts from (<c>DDIMInverseScheduler</c>'s <c>initial_alpha_cumprod</c>). By
    /// default it is what <c>DDIMInverseScheduler.from_config</c> of this config uses: 1 with <c>set_alpha_to_one</c>,
    /// else ᾱ₀, i.e. <see cref="FinalAlphaCumprod"/>, which an exact invert-then-sample round trip needs. Set it to 1 to
    /// treat the start latents as fully clean whatever the config says.
    /// </summary>
    public double InitialAlphaCumprod
    {
        get => _initialAlphaCumprod;
        set
        {
            if (value is not (> 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(value), value, "ᾱ must lie in (0, 1].");
            _initialAlphaCumprod = value;
        }
    }
    private double _initialAlphaCumprod;
    /// <summary>Standard deviation of the initial noise (1 for DDIM).</summary>
    public double InitNoiseSigma => 1.0;

    /// <summary>The step count of the last <see cref="SetTimesteps"/>, or 0 before it.</summary>
    public int NumInferenceSteps { get; private set; }
    /// <summary>Sampling timesteps, noisiest first (empty before <see cref="SetTimesteps"/>).</summary>
    public IReadOnlyList<long> Timesteps { get; private set; } = [];

    /// <summary>Builds a DDIM scheduler from its config.</summary>
    /// <exception cref="ArgumentException">An unknown <c>beta_schedule</c>, <c>prediction_type</c> or <c>timestep_spacing</c>, or bad sizes.</exception>
    public DdimScheduler(DdimSchedulerConfig config, string? source = null)
    {
        Config = config;
        Source = source ?? config.ClassName;
        PredictionType = NoiseSchedule.ParsePredictionType(config.PredictionType, Source);
        Spacing = NoiseSchedule.ParseSpacing(config.TimestepSpacing, Source);
        if (config.Thresholding && config.DynamicThresholdingRatio is <= 0 or > 1)
            throw new ArgumentException($"{Source}: dynamic_thresholding_ratio must be in (0, 1], not {config.DynamicThresholdingRatio}.");

        using var scope = NewDisposeScope();
        var alphasCumprod = BuildAlphasCumprod(config);
        AlphasCumprodDtype = alphasCumprod.dtype;
        _alphasCumprod = alphasCumprod.to(ScalarType.Float64).data<double>().ToArray();
        FinalAlphaCumprod = config.SetAlphaToOne ? 1.0 : _alphasCumprod[0];
        _initialAlphaCumprod = FinalAlphaCumprod;
    }

    /// <summary>
    /// Loads the scheduler of a pipeline folder (<c>scheduler/scheduler_config.json</c>), a scheduler folder, or a
    /// <c>scheduler_config.json</c> file: a <see cref="CogVideoXDdimScheduler"/> for <c>CogVideoXDDIMScheduler</c>, a
    /// <see cref="DdimScheduler"/> otherwise.
    /// </summary>
    public static DdimScheduler FromPretrained(string path, Action<string>? warn = null)
    {
        var config = DdimSchedulerConfig.Load(path, warn);
        return Create(config, path);
    }

    /// <summary>The scheduler class for <paramref name="config"/>'s type.</summary>
    public static DdimScheduler Create(DdimSchedulerConfig config, string? source = null) => config switch
    {
        CogVideoXDdimSchedulerConfig cog => new CogVideoXDdimScheduler(cog, source),
        _ => new DdimScheduler(config, source),
    };

    /// <summary>ᾱ in diffusers' dtype: betas → (zero-SNR rescale) → cumulative product of 1 − β.</summary>
    protected virtual Tensor BuildAlphasCumprod(DdimSchedulerConfig config)
    {
        var betas = NoiseSchedule.Betas(config, ScalarType.Float32, Source);
        if (config.RescaleBetasZeroSnr) betas = NoiseSchedule.RescaleBetasZeroSnr(betas);
        return (1.0 - betas).cumprod(0);
    }

    /// <summary>Sets the sampling timesteps for <paramref name="numInferenceSteps"/> steps (diffusers' <c>set_timesteps</c>).</summary>
    public void SetTimesteps(int numInferenceSteps)
    {
        Timesteps = NoiseSchedule.SamplingTimesteps(Spacing, Config.NumTrainTimesteps, numInferenceSteps, Config.StepsOffset);
        NumInferenceSteps = numInferenceSteps;
    }

    /// <summary>
    /// The inversion timesteps (cleanest first) for the current step count, as <c>DDIMInverseScheduler.set_timesteps</c>
    /// gives them: the sampling timesteps reversed.
    /// </summary>
    /// <exception cref="NotSupportedException"><c>linspace</c> spacing.</exception>
    public IReadOnlyList<long> InverseTimesteps
    {
        get
        {
            RequireTimesteps();
            return NoiseSchedule.InversionTimesteps(Spacing, Config.NumTrainTimesteps, NumInferenceSteps, Config.StepsOffset);
        }
    }

    /// <summary>The fixed distance T div n between consecutive timesteps that each step assumes.</summary>
    public int StepRatio
    {
        get
        {
            RequireTimesteps();
            return Config.NumTrainTimesteps / NumInferenceSteps;
        }
    }

    /// <summary>ᾱ_t; a negative t means "before the first training timestep" (<see cref="FinalAlphaCumprod"/>).</summary>
    public double AlphaCumprodAt(long timestep)
    {
        if (timestep < 0) return FinalAlphaCumprod;
        if (timestep >= _alphasCumprod.Length)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"{Source}: timesteps run from 0 to {_alphasCumprod.Length - 1}.");
        return _alphasCumprod[timestep];
    }

    /// <summary>
    /// One DDIM sampling step from <paramref name="timestep"/> to <paramref name="timestep"/> − T/n
    /// (<c>DDIMScheduler.step</c>; formulas 12 and 16 of the DDIM paper).
    /// </summary>
    /// <param name="modelOutput">The denoiser's prediction (ε, v or x₀).</param>
    /// <param name="timestep">The current timestep t.</param>
    /// <param name="sample">x_t.</param>
    /// <param name="eta">η: 0 is deterministic DDIM, 1 is DDPM-like ancestral noise.</param>
    /// <param name="generator">Draws the η noise; its device is used, then the noise moves to the sample's device.</param>
    /// <param name="varianceNoise">The η noise itself, instead of drawing it.</param>
    /// <param name="useClippedModelOutput">Re-derive ε from the clipped x₀ (GLIDE).</param>
    public virtual SchedulerStepOutput Step(Tensor modelOutput, long timestep, Tensor sample, double eta = 0,
        Generator? generator = null, Tensor? varianceNoise = null, bool useClippedModelOutput = false)
    {
        RequireTimesteps();
        if (varianceNoise is not null && generator is not null)
            throw new ArgumentException("Pass either a generator or variance noise, not both.");
        using var scope = NewDisposeScope();

        // 1. previous step value (= t − T/n)
        long prevTimestep = timestep - Config.NumTrainTimesteps / NumInferenceSteps;

        // 2. alphas, betas
        double alphaProdT = AlphaCumprodAt(timestep);
        double alphaProdTPrev = AlphaCumprodAt(prevTimestep);
        double betaProdT = 1 - alphaProdT;

        // 3. predicted x0 and epsilon ("predicted x_0" of formula 12)
        var (predOriginalSample, predEpsilon) = Predict(modelOutput, sample, alphaProdT, betaProdT);

        // 4. clip or threshold the predicted x0
        if (Config.Thresholding) predOriginalSample = ThresholdSample(predOriginalSample);
        else if (Config.ClipSample) predOriginalSample = predOriginalSample.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        // 5. sigma_t(eta), formula 16
        double variance = betaProdT == 0 ? 0 : (1 - alphaProdTPrev) / betaProdT * (1 - alphaProdT / alphaProdTPrev);
        double stdDevT = eta * Math.Sqrt(variance);
        if (useClippedModelOutput)
            predEpsilon = (sample - predOriginalSample * Math.Sqrt(alphaProdT)) / Math.Sqrt(betaProdT);

        // 6. "direction pointing to x_t" (clamped at 0: rounding must not turn the root into NaN)
        var predSampleDirection = predEpsilon * Math.Sqrt(Math.Max(1 - alphaProdTPrev - stdDevT * stdDevT, 0));

        // 7. x_{t-1} without the random noise, then the noise
        var prevSample = predOriginalSample * Math.Sqrt(alphaProdTPrev) + predSampleDirection;
        if (eta > 0)
        {
            var noise = varianceNoise ?? RandomTensors.Randn(modelOutput.shape, generator, modelOutput.dtype, modelOutput.device);
            prevSample = prevSample + noise * stdDevT;
        }
        return new SchedulerStepOutput(prevSample.MoveToOuterDisposeScope(), predOriginalSample.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One DDIM inversion step to <paramref name="timestep"/> from <paramref name="timestep"/> − T/n
    /// (<c>DDIMInverseScheduler.step</c>). <paramref name="modelOutput"/> is the denoiser's output for the current sample
    /// labelled with the target timestep, as diffusers' inversion loops call it.
    /// </summary>
    /// <remarks>
    /// For ε and x₀ prediction this is the exact inverse of <see cref="Step"/> (η = 0) with the model output held fixed:
    /// x₀ and ε are read at the current level s and recombined at the target level t. For v-prediction diffusers reads v
    /// at level s, which is not the inverse of the sampling step; <see cref="CogVideoXDdimScheduler"/> derives the exact one.
    /// </remarks>
    public virtual SchedulerStepOutput InverseStep(Tensor modelOutput, long timestep, Tensor sample)
    {
        RequireTimesteps();
        using var scope = NewDisposeScope();

        // 1. the current level s = t − T/n (clamped to T−1 as diffusers does); t is where this step lands
        long prevTimestep = timestep;
        long current = Math.Min(timestep - Config.NumTrainTimesteps / NumInferenceSteps, Config.NumTrainTimesteps - 1);

        // 2. alphas, betas
        double alphaProdT = current >= 0 ? AlphaCumprodAt(current) : InitialAlphaCumprod;
        double alphaProdTPrev = AlphaCumprodAt(prevTimestep);
        double betaProdT = 1 - alphaProdT;

        // 3. predicted x0 and epsilon at the current level
        var (predOriginalSample, predEpsilon) = Predict(modelOutput, sample, alphaProdT, betaProdT);

        // 4. clip the predicted x0
        if (Config.ClipSample) predOriginalSample = predOriginalSample.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        // 5. direction pointing to x_t, 6. x_t
        var predSampleDirection = predEpsilon * Math.Sqrt(1 - alphaProdTPrev);
        var prevSample = predOriginalSample * Math.Sqrt(alphaProdTPrev) + predSampleDirection;
        return new SchedulerStepOutput(prevSample.MoveToOuterDisposeScope(), predOriginalSample.MoveToOuterDisposeScope());
    }

    /// <summary>(x̂₀, ε̂) from the model output at a level with ᾱ = <paramref name="alphaProd"/>.</summary>
    protected (Tensor PredOriginal, Tensor PredEpsilon) Predict(Tensor modelOutput, Tensor sample, double alphaProd, double betaProd)
    {
        double sqrtAlpha = Math.Sqrt(alphaProd), sqrtBeta = Math.Sqrt(betaProd);
        // alias(): the results belong to the caller's dispose scope, never the caller's own model output
        switch (PredictionType)
        {
            case PredictionType.Epsilon:
                return ((sample - modelOutput * sqrtBeta) / sqrtAlpha, modelOutput.alias());
            case PredictionType.Sample:
                return (modelOutput.alias(), (sample - modelOutput * sqrtAlpha) / sqrtBeta);
            default:
                return (sample * sqrtAlpha - modelOutput * sqrtBeta, modelOutput * sqrtAlpha + sample * sqrtBeta);
        }
    }

    /// <summary>
    /// Imagen's dynamic thresholding (<c>_threshold_sample</c>): per sample, s = clamp(quantile(|x₀|, ratio), 1, max),
    /// then x₀ ← clamp(x₀, −s, s) / s.
    /// </summary>
    protected Tensor ThresholdSample(Tensor sample)
    {
        using var scope = NewDisposeScope();
        var dtype = sample.dtype;
        var shape = sample.shape;
        var flat = sample.reshape(shape[0], -1);
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64)) flat = flat.to(ScalarType.Float32); // quantile needs float
        var q = tensor(Config.DynamicThresholdingRatio, flat.dtype, flat.device);
        var s = quantile(flat.abs(), q, dim: 1).clamp(1, Config.SampleMaxValue).unsqueeze(1);
        var result = minimum(maximum(flat, -s), s) / s;
        return result.reshape(shape).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The forward process q(x_t | x₀): √ᾱ_t·x₀ + √(1−ᾱ_t)·noise, with ᾱ cast to the sample's dtype first (diffusers'
    /// <c>add_noise</c>). <paramref name="timesteps"/> holds one timestep per sample (or one for all).
    /// </summary>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        var (sqrtAlpha, sqrtOneMinusAlpha) = Coefficients(originalSamples, timesteps);
        return (sqrtAlpha * originalSamples + sqrtOneMinusAlpha * noise).MoveToOuterDisposeScope();
    }

    /// <summary>The v-prediction target √ᾱ_t·noise − √(1−ᾱ_t)·x₀ (diffusers' <c>get_velocity</c>).</summary>
    public Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        var (sqrtAlpha, sqrtOneMinusAlpha) = Coefficients(sample, timesteps);
        return (sqrtAlpha * noise - sqrtOneMinusAlpha * sample).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What the denoiser is trained to output for x_t = <see cref="AddNoise"/>(x₀, noise, t): the noise (ε), the velocity
    /// (v) or x₀ itself (sample), as diffusers' training scripts choose by <c>prediction_type</c>.
    /// </summary>
    public Tensor TrainingTarget(Tensor originalSamples, Tensor noise, Tensor timesteps) => PredictionType switch
    {
        PredictionType.Epsilon => noise.alias(),
        PredictionType.Sample => originalSamples.alias(),
        _ => GetVelocity(originalSamples, noise, timesteps),
    };

    // √ᾱ_t and √(1−ᾱ_t) per sample, shaped to broadcast over the sample's trailing dims.
    private (Tensor, Tensor) Coefficients(Tensor sample, Tensor timesteps)
    {
        var t = timesteps.to(ScalarType.Int64, sample.device).flatten();
        if (t.numel() > 0 && (t.min().item<long>() < 0 || t.max().item<long>() >= _alphasCumprod.Length))
            throw new ArgumentOutOfRangeException(nameof(timesteps), $"{Source}: timesteps must lie in [0, {_alphasCumprod.Length - 1}].");
        var alphasCumprod = tensor(_alphasCumprod, ScalarType.Float64).to(AlphasCumprodDtype).to(sample.dtype, sample.device);
        var alphaProd = alphasCumprod.index_select(0, t);
        var shape = new long[sample.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return (alphaProd.sqrt().reshape(shape), (1 - alphaProd).sqrt().reshape(shape));
    }

    /// <summary>Throws unless <see cref="SetTimesteps"/> was called.</summary>
    protected void RequireTimesteps()
    {
        if (NumInferenceSteps == 0)
            throw new InvalidOperationException($"{Source}: call SetTimesteps before stepping the scheduler.");
    }
}
