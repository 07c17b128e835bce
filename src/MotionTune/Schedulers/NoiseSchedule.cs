using static TorchSharp.torch;

namespace MotionTune.Schedulers;

/// <summary>What the denoiser predicts, as diffusers' <c>prediction_type</c> names it.</summary>
public enum PredictionType
{
    /// <summary><c>epsilon</c>: the added noise ε.</summary>
    Epsilon,
    /// <summary><c>v_prediction</c>: v = √ᾱ·ε − √(1−ᾱ)·x₀ (Imagen Video, section 2.4).</summary>
    VPrediction,
    /// <summary><c>sample</c>: the clean sample x₀.</summary>
    Sample,
}

/// <summary>How the inference timesteps are spread over [0, T) (table 2 of arXiv 2305.08891).</summary>
public enum TimestepSpacing
{
    /// <summary><c>leading</c>: 0, r, 2r, … (r = T div n) plus <c>steps_offset</c>; never reaches T−1.</summary>
    Leading,
    /// <summary><c>trailing</c>: T−1, T−1−T/n, …; starts at the last training timestep.</summary>
    Trailing,
    /// <summary><c>linspace</c>: n rounded points from 0 to T−1.</summary>
    Linspace,
}

/// <summary>
/// The β / ᾱ schedules and timestep grids exactly as diffusers computes them (same dtypes, same rounding), so that
/// <c>alphas_cumprod</c> and the timesteps match the reference bit for bit or nearly so.
/// </summary>
public static class NoiseSchedule
{
    /// <summary>Parses <c>prediction_type</c>.</summary>
    /// <exception cref="ArgumentException">An unknown value; the message names <paramref name="source"/>.</exception>
    public static PredictionType ParsePredictionType(string value, string source) => value switch
    {
        "epsilon" => PredictionType.Epsilon,
        "v_prediction" => PredictionType.VPrediction,
        "sample" => PredictionType.Sample,
        _ => throw new ArgumentException($"{source}: prediction_type '{value}' is not supported; use 'epsilon', 'v_prediction' or 'sample'."),
    };

    /// <summary>Parses <c>timestep_spacing</c>.</summary>
    /// <exception cref="ArgumentException">An unknown value; the message names <paramref name="source"/>.</exception>
    public static TimestepSpacing ParseSpacing(string value, string source) => value switch
    {
        "leading" => TimestepSpacing.Leading,
        "trailing" => TimestepSpacing.Trailing,
        "linspace" => TimestepSpacing.Linspace,
        _ => throw new ArgumentException($"{source}: timestep_spacing '{value}' is not supported; use 'leading', 'trailing' or 'linspace'."),
    };

    /// <summary>
    /// The betas of <paramref name="config"/>: <c>trained_betas</c>, or the named schedule. diffusers builds them in
    /// float32, except that <c>CogVideoXDDIMScheduler</c> builds <c>scaled_linear</c> in float64
    /// (<paramref name="scaledLinearDtype"/>).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown <c>beta_schedule</c> or bad sizes.</exception>
    public static Tensor Betas(DdimSchedulerConfig config, ScalarType scaledLinearDtype, string source)
    {
        int T = config.NumTrainTimesteps;
        if (T < 1) throw new ArgumentException($"{source}: num_train_timesteps must be at least 1, not {T}.");
        if (config.TrainedBetas is { } trained)
        {
            if (trained.Length != T)
                throw new ArgumentException($"{source}: trained_betas has {trained.Length} values but num_train_timesteps is {T}.");
            return tensor(trained, ScalarType.Float64).to(ScalarType.Float32);
        }
        return config.BetaSchedule switch
        {
            "linear" => linspace(config.BetaStart, config.BetaEnd, T, ScalarType.Float32),
            // "scaled_linear" is the latent-diffusion schedule: linear in √β.
            "scaled_linear" => linspace(Math.Pow(config.BetaStart, 0.5), Math.Pow(config.BetaEnd, 0.5), T, scaledLinearDtype).pow(2),
            "squaredcos_cap_v2" => GlideCosineBetas(T),
            _ => throw new ArgumentException(
                $"{source}: beta_schedule '{config.BetaSchedule}' is not supported; use 'linear', 'scaled_linear' or 'squaredcos_cap_v2'."),
        };
    }

    /// <summary>GLIDE's cosine schedule: β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999), ᾱ(u) = cos²((u + 0.008)/1.008 · π/2), in double then float32.</summary>
    private static Tensor GlideCosineBetas(int T)
    {
        static double AlphaBar(double u) => Math.Pow(Math.Cos((u + 0.008) / 1.008 * Math.PI / 2), 2);
        var betas = new double[T];
        for (int i = 0; i < T; i++)
            betas[i] = Math.Min(1 - AlphaBar((double)(i + 1) / T) / AlphaBar((double)i / T), 0.999);
        return tensor(betas, ScalarType.Float64).to(ScalarType.Float32);
    }

    /// <summary>
    /// Algorithm 1 of arXiv 2305.08891 on betas (diffusers' <c>rescale_zero_terminal_snr</c> in scheduling_ddim.py):
    /// shift √ᾱ so its last value is 0, scale it so its first value is unchanged, and return the betas of that ᾱ.
    /// </summary>
    public static Tensor RescaleBetasZeroSnr(Tensor betas)
    {
        using var scope = NewDisposeScope();
        var alphasCumprod = (1.0 - betas).cumprod(0);
        var alphaBar = RescaleAlphasCumprodZeroSnr(alphasCumprod);
        var alphas = cat([alphaBar[..1], alphaBar[1..] / alphaBar[..^1]]); // undo the cumulative product
        return (1.0 - alphas).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same rescaling applied directly to ᾱ, as <c>CogVideoXDDIMScheduler</c> does (after its SNR shift).
    /// </summary>
    public static Tensor RescaleAlphasCumprodZeroSnr(Tensor alphasCumprod)
    {
        using var scope = NewDisposeScope();
        var sqrtAlphaBar = alphasCumprod.sqrt();
        var first = sqrtAlphaBar[0].clone();
        var last = sqrtAlphaBar[-1].clone();
        sqrtAlphaBar = (sqrtAlphaBar - last) * (first / (first - last));
        return sqrtAlphaBar.pow(2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The sampling timesteps (noisiest first) of diffusers' <c>DDIMScheduler.set_timesteps</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is not in [1, T].</exception>
    public static long[] SamplingTimesteps(TimestepSpacing spacing, int trainTimesteps, int steps, int stepsOffset)
    {
        CheckSteps(trainTimesteps, steps);
        long[] timesteps;
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                timesteps = NumpyLinspace(0, trainTimesteps - 1, steps).Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).Reverse().ToArray();
                break;
            case TimestepSpacing.Leading:
                int ratio = trainTimesteps / steps;
                timesteps = Enumerable.Range(0, steps).Select(i => (long)i * ratio + stepsOffset).Reverse().ToArray();
                break;
            default:
                timesteps = TrailingGrid(trainTimesteps, steps);
                // For some step counts (61, 103, …) numpy's float arange yields one extra point that rounds to t = −1;
                // diffusers would then index ᾱ[−1] = ᾱ[T−1]. Refuse rather than copy that.
                if (timesteps.Length != steps)
                    throw new ArgumentOutOfRangeException(nameof(steps), steps,
                        $"'trailing' spacing with {steps} steps gives diffusers' grid {timesteps.Length} timesteps ending at {timesteps[^1]} " +
                        "(a floating-point artefact of numpy's arange); choose another step count.");
                break;
        }
        return timesteps;
    }

    /// <summary>
    /// The inversion timesteps (cleanest first) of diffusers' <c>DDIMInverseScheduler.set_timesteps</c>: the sampling grid
    /// reversed. It knows only <c>leading</c> and <c>trailing</c>.
    /// </summary>
    /// <exception cref="NotSupportedException"><c>linspace</c> spacing.</exception>
    public static long[] InversionTimesteps(TimestepSpacing spacing, int trainTimesteps, int steps, int stepsOffset)
    {
        if (spacing == TimestepSpacing.Linspace)
            throw new NotSupportedException(
                "DDIM inversion supports timestep_spacing 'leading' and 'trailing' (as diffusers' DDIMInverseScheduler does), not 'linspace': " +
                "its grid does not match the fixed step T/n that each DDIM step assumes.");
        return SamplingTimesteps(spacing, trainTimesteps, steps, stepsOffset).Reverse().ToArray();
    }

    private static void CheckSteps(int trainTimesteps, int steps)
    {
        if (steps < 1 || steps > trainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps,
                $"The number of inference steps must be between 1 and num_train_timesteps ({trainTimesteps}).");
    }

    // np.round(np.arange(T, 0, -T/n)).astype(int64) - 1, with numpy's float arange: length ceil(-T/-step), and values
    // start + i·delta where delta = (start + step) − start.
    private static long[] TrailingGrid(int trainTimesteps, int steps)
    {
        double step = -(double)trainTimesteps / steps;
        long length = (long)Math.Ceiling((0.0 - trainTimesteps) / step);
        double start = trainTimesteps;
        double delta = (start + step) - start;
        var grid = new long[length];
        for (long i = 0; i < length; i++)
        {
            double value = i == 0 ? start : i == 1 ? start + step : start + i * delta;
            grid[i] = (long)Math.Round(value, MidpointRounding.ToEven) - 1;
        }
        return grid;
    }

    // np.linspace(start, stop, num): i·step + start, the last value set to stop exactly.
    private static double[] NumpyLinspace(double start, double stop, int num)
    {
        var y = new double[num];
        if (num == 1) { y[0] = start; return y; }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[^1] = stop;
        return y;
    }
}
