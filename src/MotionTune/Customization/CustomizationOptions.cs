using System.Globalization;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>How a LoRA is applied while sampling.</summary>
public enum LoraMode
{
    /// <summary>
    /// Folded into the weights (W + (α/r)·B A) while on, and the original weights copied back at the switch to t &lt; τ:
    /// the steps cost what the base model's cost.
    /// </summary>
    Merged,
    /// <summary>A separate low-rank path added to each targeted layer's output while on.</summary>
    Separate,
}

/// <summary>
/// Settings of a timestep-constrained one-shot customization (paper section 4): what is trained (LoRA or the weights
/// themselves), the timestep range t ∈ [τ, T) it is trained on, and the optimizer. Each property names the CLI flag it
/// maps to.
/// </summary>
public sealed record CustomizationOptions
{
    /// <summary>
    /// <c>--tau</c>: training draws t uniformly from the integers [τ, T), and sampling applies the customization at t ≥ τ.
    /// 0 is the classic all-timestep baseline. See <see cref="RecommendedTau"/>.
    /// </summary>
    public int Tau { get; init; } = 700;
    /// <summary><c>--steps</c>: optimizer steps (one clip, so one step is one batch of noise draws).</summary>
    public int Steps { get; init; } = 300;
    /// <summary><c>--lr</c>: AdamW learning rate after warmup.</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary><c>--rank</c>: LoRA rank r (ignored with <see cref="Full"/>).</summary>
    public int Rank { get; init; } = 4;
    /// <summary><c>--alpha</c>: LoRA alpha (scale α/r; the paper uses r = α = 4).</summary>
    public double Alpha { get; init; } = 4;
    /// <summary><c>--targets</c>: a preset (<c>temporal-qkvo</c>, <c>temporal-vo</c>) or a regular expression over module names.</summary>
    public string Targets { get; init; } = "temporal-qkvo";
    /// <summary><c>--full</c>: train the targeted weights themselves instead of a LoRA.</summary>
    public bool Full { get; init; }
    /// <summary><c>--warmup</c>: steps of linear warmup: step k (1-based) uses lr · min(1, k / warmup).</summary>
    public int Warmup { get; init; }
    /// <summary><c>--weight-decay</c>: AdamW's decoupled weight decay (PyTorch's and diffusers' default 1e-2).</summary>
    public double WeightDecay { get; init; } = 1e-2;
    /// <summary><c>--clip-grad</c>: maximum global L2 norm of the gradient; 0 turns clipping off.</summary>
    public double ClipGrad { get; init; } = 1.0;
    /// <summary><c>--seed</c>: seeds the adapter initialisation and every step's timesteps and noise.</summary>
    public long Seed { get; init; }
    /// <summary><c>--checkpoint-every</c>: write a resumable checkpoint every N steps (and after the last); 0: never.</summary>
    public int CheckpointEvery { get; init; } = 100;
    /// <summary><c>--checkpoint-dir</c>: where checkpoints go; null: no checkpoints.</summary>
    public string? CheckpointDirectory { get; init; }
    /// <summary>
    /// <c>--keep-checkpoints</c>: how many of the newest checkpoints to keep in the folder (older ones are deleted after
    /// each new one is complete); 0 keeps all. A full-parameter checkpoint of a large model holds 12 bytes per tuned weight.
    /// </summary>
    public int KeepCheckpoints { get; init; }
    /// <summary>
    /// <c>--resume</c>: a checkpoint file, or a folder whose newest <c>checkpoint-*.safetensors</c> is used. Training
    /// continues from its step as if it had never stopped.
    /// </summary>
    public string? Resume { get; init; }
    /// <summary><c>--gradient-checkpointing</c>: recompute block activations in the backward pass (less memory, ~1/3 more compute).</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary><c>--lora-mode</c>: <c>merged</c> or <c>separate</c> LoRA application when sampling.</summary>
    public LoraMode LoraMode { get; init; } = LoraMode.Merged;
    /// <summary><c>--noise-draws</c>: noise draws (each with its own t) of the clip per step, run as one batch.</summary>
    public int NoiseDraws { get; init; } = 1;
    /// <summary><c>--validate-every</c>: call the validation callback every N steps; 0: never.</summary>
    public int ValidateEvery { get; init; }
    /// <summary><c>--adam-beta1</c>.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary><c>--adam-beta2</c>.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary><c>--adam-eps</c>.</summary>
    public double Epsilon { get; init; } = 1e-8;
    /// <summary><c>--lora-dropout</c>: dropout on the LoRA input while training.</summary>
    public double LoraDropout { get; init; }

    /// <summary>The τ of the paper's best results (table 1): 700 for ModelScope and Latte, 950 for CogVideoX.</summary>
    public static int RecommendedTau(Architecture architecture) => architecture == Architecture.CogVideoX ? 950 : 700;

    /// <summary>The defaults with the paper's τ for <paramref name="architecture"/>.</summary>
    public static CustomizationOptions ForArchitecture(Architecture architecture) => new() { Tau = RecommendedTau(architecture) };

    /// <summary>The learning rate of 1-based step <paramref name="step"/>: linear warmup, then constant.</summary>
    /// <remarks>
    /// diffusers' <c>constant_with_warmup</c> gives step 1 a learning rate of 0 (LambdaLR starts at 0 / warmup); here the
    /// first step already moves, and step <see cref="Warmup"/> reaches the full rate.
    /// </remarks>
    public double LearningRateAt(int step) => Warmup > 0 && step < Warmup ? LearningRate * step / Warmup : LearningRate;

    /// <summary>Checks every setting against the scheduler's <paramref name="numTrainTimesteps"/> T.</summary>
    /// <exception cref="ArgumentException">All invalid settings, each named by its flag.</exception>
    public void Validate(int numTrainTimesteps)
    {
        var problems = new List<string>();
        if (Tau < 0 || Tau >= numTrainTimesteps)
            problems.Add($"--tau {Tau} is out of range: training draws t from [tau, {numTrainTimesteps}), so tau must lie in " +
                $"[0, {numTrainTimesteps - 1}] (tau = {numTrainTimesteps} is the untuned base model: nothing to train)");
        if (Steps <= 0) problems.Add($"--steps must be positive, not {Steps}");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) problems.Add($"--lr must be a positive number, not {Format(LearningRate)}");
        if (!Full && Rank <= 0) problems.Add($"--rank must be positive, not {Rank}");
        if (!Full && (!(Alpha > 0) || !double.IsFinite(Alpha))) problems.Add($"--alpha must be a positive number, not {Format(Alpha)}");
        if (string.IsNullOrWhiteSpace(Targets)) problems.Add("--targets must name a preset or a pattern");
        if (Warmup < 0) problems.Add($"--warmup must not be negative, not {Warmup}");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) problems.Add($"--weight-decay must be a non-negative number, not {Format(WeightDecay)}");
        if (!(ClipGrad >= 0) || !double.IsFinite(ClipGrad)) problems.Add($"--clip-grad must be a non-negative number (0: off), not {Format(ClipGrad)}");
        if (CheckpointEvery < 0) problems.Add($"--checkpoint-every must not be negative (0: never), not {CheckpointEvery}");
        if (KeepCheckpoints < 0) problems.Add($"--keep-checkpoints must not be negative (0: all), not {KeepCheckpoints}");
        if (NoiseDraws <= 0) problems.Add($"--noise-draws must be positive, not {NoiseDraws}");
        if (ValidateEvery < 0) problems.Add($"--validate-every must not be negative (0: never), not {ValidateEvery}");
        if (!(Beta1 >= 0 && Beta1 < 1)) problems.Add($"--adam-beta1 must lie in [0, 1), not {Format(Beta1)}");
        if (!(Beta2 >= 0 && Beta2 < 1)) problems.Add($"--adam-beta2 must lie in [0, 1), not {Format(Beta2)}");
        if (!(Epsilon > 0) || !double.IsFinite(Epsilon)) problems.Add($"--adam-eps must be a positive number, not {Format(Epsilon)}");
        if (!(LoraDropout >= 0 && LoraDropout < 1)) problems.Add($"--lora-dropout must lie in [0, 1), not {Format(LoraDropout)}");
        if (LoraDropout > 0 && GradientCheckpointing)
            problems.Add("--lora-dropout with --gradient-checkpointing: the recomputed forward would draw other dropout masks");
        if (problems.Count > 0)
            throw new ArgumentException("Invalid customization options:\n  " + string.Join("\n  ", problems));
    }

    /// <summary>
    /// Attaches what these options train to <paramref name="model"/>: a LoRA (<see cref="LoraNetwork"/>, float32 adapters)
    /// or, with <see cref="Full"/>, the targeted weights (<see cref="FullParameterTuning"/>). The LoRA's random
    /// initialisation is drawn from a generator seeded by <see cref="Seed"/>.
    /// </summary>
    public ICustomization CreateCustomization(nn.Module model, Architecture architecture, string? baseModel = null)
    {
        var targets = LoraTargets.Parse(architecture, Targets);
        if (Full)
            return FullParameterTuning.Attach(model, targets,
                new FullTuningSettings { Tau = Tau, BaseModel = baseModel, Architecture = architecture });
        using var generator = new Generator((ulong)TrainingDraws.DerivedSeed(Seed, TrainingDraws.InitializationStream), CPU);
        return LoraNetwork.Attach(model, targets, new LoraSettings
        {
            Rank = Rank, Alpha = Alpha, Dropout = LoraDropout, Tau = Tau, BaseModel = baseModel, Architecture = architecture,
        }, generator: generator);
    }

    /// <summary>
    /// The settings that shape the training trajectory, by flag. A resumed run must agree on all of them (it may change
    /// the step count, checkpointing, validation, gradient checkpointing and the sampling mode).
    /// </summary>
    public SortedDictionary<string, string> TrajectorySettings() => new(StringComparer.Ordinal)
    {
        ["--tau"] = Tau.ToString(CultureInfo.InvariantCulture),
        ["--lr"] = Format(LearningRate),
        ["--full"] = Full ? "true" : "false",
        ["--rank"] = Full ? "-" : Rank.ToString(CultureInfo.InvariantCulture),
        ["--alpha"] = Full ? "-" : Format(Alpha),
        ["--targets"] = Targets,
        ["--warmup"] = Warmup.ToString(CultureInfo.InvariantCulture),
        ["--weight-decay"] = Format(WeightDecay),
        ["--clip-grad"] = Format(ClipGrad),
        ["--seed"] = Seed.ToString(CultureInfo.InvariantCulture),
        ["--noise-draws"] = NoiseDraws.ToString(CultureInfo.InvariantCulture),
        ["--adam-beta1"] = Format(Beta1),
        ["--adam-beta2"] = Format(Beta2),
        ["--adam-eps"] = Format(Epsilon),
        ["--lora-dropout"] = Full ? "-" : Format(LoraDropout),
    };

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
