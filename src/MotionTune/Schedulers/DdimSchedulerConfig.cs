using System.Text.Json;
using System.Text.Json.Serialization;
using MotionTune.IO;

namespace MotionTune.Schedulers;

/// <summary>
/// The <c>scheduler_config.json</c> of diffusers' <c>DDIMScheduler</c> (and <c>DDIMInverseScheduler</c>, which reads the
/// same keys). Defaults are diffusers' defaults for <c>DDIMScheduler</c>.
/// </summary>
public record DdimSchedulerConfig : ModelConfig
{
    /// <summary>Number of diffusion steps the model was trained with (T).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;
    /// <summary>First beta of the <c>linear</c> / <c>scaled_linear</c> schedules.</summary>
    public double BetaStart { get; init; } = 0.0001;
    /// <summary>Last beta of the <c>linear</c> / <c>scaled_linear</c> schedules.</summary>
    public double BetaEnd { get; init; } = 0.02;
    /// <summary><c>linear</c>, <c>scaled_linear</c> or <c>squaredcos_cap_v2</c>.</summary>
    public string BetaSchedule { get; init; } = "linear";
    /// <summary>Explicit betas; when set they replace the beta schedule.</summary>
    public double[]? TrainedBetas { get; init; }
    /// <summary>Clamp the predicted x₀ to ±<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; init; } = true;
    /// <summary>Clamp range of <see cref="ClipSample"/>.</summary>
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary>
    /// The ᾱ used past the last sampling step (and before the first inversion step): 1 when true, else ᾱ₀.
    /// </summary>
    public bool SetAlphaToOne { get; init; } = true;
    /// <summary>Offset added to <c>leading</c> timesteps (ModelScope uses 1).</summary>
    public int StepsOffset { get; init; }
    /// <summary>What the model predicts: <c>epsilon</c>, <c>v_prediction</c> or <c>sample</c>.</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary>Dynamic thresholding of the predicted x₀ (Imagen); takes precedence over <see cref="ClipSample"/>.</summary>
    public bool Thresholding { get; init; }
    /// <summary>Quantile of |x₀| used as the dynamic threshold.</summary>
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    /// <summary>Upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; init; } = 1.0;
    /// <summary><c>leading</c>, <c>trailing</c> or <c>linspace</c> (table 2 of arXiv 2305.08891).</summary>
    public string TimestepSpacing { get; init; } = "leading";
    /// <summary>Rescale the schedule to zero terminal SNR (ᾱ at t = T−1 becomes 0).</summary>
    public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>
    /// Keys real pipeline folders carry that DDIM does not use: ModelScope's <c>skip_prk_steps</c> (a PNDM option) and
    /// Latte's <c>variance_type</c> (its learned-sigma channels are dropped by the pipeline, not the scheduler).
    /// </summary>
    protected override IReadOnlyCollection<string> InertKeys => ["skip_prk_steps", "variance_type"];

    /// <summary>The diffusers class name these settings belong to.</summary>
    [JsonIgnore]
    public virtual string ClassName => "DDIMScheduler";

    /// <summary>
    /// Reads a scheduler config: a <c>scheduler_config.json</c> file, a scheduler folder holding one, or a pipeline folder
    /// (its <c>scheduler/</c> subfolder). The file's <c>_class_name</c> picks the record:
    /// <c>CogVideoXDDIMScheduler</c> gives a <see cref="CogVideoXDdimSchedulerConfig"/>, anything else a
    /// <see cref="DdimSchedulerConfig"/> (another scheduler class is read as DDIM, as diffusers' <c>from_config</c> would, with a warning).
    /// </summary>
    /// <exception cref="FileNotFoundException">No scheduler_config.json at or under <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid JSON for the config.</exception>
    public static DdimSchedulerConfig Load(string path, Action<string>? warn = null)
    {
        var file = Locate(path);
        string? className;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            className = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("_class_name", out var c) ? c.GetString() : null;
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"{file}: not valid JSON: {e.Message}", e);
        }
        switch (className)
        {
            case "CogVideoXDDIMScheduler":
                return ConfigFile.Load<CogVideoXDdimSchedulerConfig>(file, warn);
            case null or "DDIMScheduler" or "DDIMInverseScheduler":
                return ConfigFile.Load<DdimSchedulerConfig>(file, warn);
            default:
                (warn ?? Log.Warning)($"{file}: scheduler class '{className}' is read as DDIMScheduler (MotionTune samples and inverts with DDIM).");
                return ConfigFile.Load<DdimSchedulerConfig>(file, warn);
        }
    }

    private static string Locate(string path)
    {
        if (File.Exists(path)) return path;
        foreach (var candidate in new[] { Path.Combine(path, "scheduler_config.json"), Path.Combine(path, "scheduler", "scheduler_config.json") })
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException(
            $"No scheduler config at {path}: expected a scheduler_config.json file, a folder holding one, or a pipeline folder with scheduler/scheduler_config.json.",
            path);
    }
}

/// <summary>
/// The <c>scheduler_config.json</c> of diffusers' <c>CogVideoXDDIMScheduler</c>: DDIM keys with its own defaults
/// (<c>scaled_linear</c> 0.00085 → 0.012) plus <see cref="SnrShiftScale"/>.
/// </summary>
public sealed record CogVideoXDdimSchedulerConfig : DdimSchedulerConfig
{
    /// <summary>Creates the config with <c>CogVideoXDDIMScheduler</c>'s defaults.</summary>
    public CogVideoXDdimSchedulerConfig()
    {
        BetaStart = 0.00085;
        BetaEnd = 0.012;
        BetaSchedule = "scaled_linear";
    }

    /// <summary>
    /// SD3-style SNR shift s: ᾱ ← ᾱ / (s + (1 − s)·ᾱ), i.e. the SNR is divided by s (3 for CogVideoX-2b, 1 for 5b).
    /// </summary>
    public double SnrShiftScale { get; init; } = 3.0;

    /// <inheritdoc />
    public override string ClassName => "CogVideoXDDIMScheduler";
}
