using System.CommandLine;
using MotionTune.Customization;

namespace MotionTune.Cli.Commands;

/// <summary>
/// The command-line flags of <see cref="CustomizationOptions"/> (each property's documentation names its flag), shared
/// by <c>customize</c> and <c>eval run</c>. Defaults are the options' own.
/// </summary>
internal sealed class CustomizationFlags
{
    private static readonly CustomizationOptions Defaults = new();

    public Option<int?> Tau { get; } = new("--tau") { Description = "Train on t in [tau, T) and apply at t >= tau (default: the paper's, 700 for ModelScope and Latte, 950 for CogVideoX; 0: all timesteps)." };
    public Option<int> Steps { get; } = new("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => Defaults.Steps };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "AdamW learning rate after warmup.", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<int> Rank { get; } = new("--rank") { Description = "LoRA rank.", DefaultValueFactory = _ => Defaults.Rank };
    public Option<double> Alpha { get; } = new("--alpha") { Description = "LoRA alpha (scale alpha/rank).", DefaultValueFactory = _ => Defaults.Alpha };
    public Option<string> Targets { get; } = new("--targets") { Description = "temporal-qkvo, temporal-vo, or a regular expression over module names.", DefaultValueFactory = _ => Defaults.Targets };
    public Option<bool> Full { get; } = new("--full") { Description = "Train the targeted weights themselves instead of a LoRA." };
    public Option<int> Warmup { get; } = new("--warmup") { Description = "Steps of linear learning-rate warmup.", DefaultValueFactory = _ => Defaults.Warmup };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => Defaults.WeightDecay };
    public Option<double> ClipGrad { get; } = new("--clip-grad") { Description = "Maximum gradient norm (0: no clipping).", DefaultValueFactory = _ => Defaults.ClipGrad };
    public Option<long> Seed { get; } = new("--seed") { Description = "Seed of the adapter initialisation and of every step's timesteps and noise.", DefaultValueFactory = _ => Defaults.Seed };
    public Option<int> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "Write a resumable checkpoint every N steps (0: never).", DefaultValueFactory = _ => Defaults.CheckpointEvery };
    public Option<string?> CheckpointDirectory { get; } = new("--checkpoint-dir") { Description = "Where checkpoints go (none without it)." };
    public Option<int> KeepCheckpoints { get; } = new("--keep-checkpoints") { Description = "Keep only the newest N checkpoints (0: all).", DefaultValueFactory = _ => Defaults.KeepCheckpoints };
    public Option<string?> Resume { get; } = new("--resume") { Description = "Continue from a checkpoint file, or the newest checkpoint in a folder." };
    public Option<bool> GradientCheckpointing { get; } = new("--gradient-checkpointing") { Description = "Recompute block activations in the backward pass (less memory)." };
    public Option<string> LoraMode { get; } = new Option<string>("--lora-mode") { Description = "merged or separate LoRA application when sampling.", DefaultValueFactory = _ => "merged" }
        .AcceptOnlyFromAmong("merged", "separate");
    public Option<int> NoiseDraws { get; } = new("--noise-draws") { Description = "Noise draws (each with its own t) of the clip per step, as one batch.", DefaultValueFactory = _ => Defaults.NoiseDraws };
    public Option<int> ValidateEvery { get; } = new("--validate-every") { Description = "Write a validation sample every N steps (0: never).", DefaultValueFactory = _ => Defaults.ValidateEvery };
    public Option<double> Beta1 { get; } = new("--adam-beta1") { Description = "AdamW beta1.", DefaultValueFactory = _ => Defaults.Beta1 };
    public Option<double> Beta2 { get; } = new("--adam-beta2") { Description = "AdamW beta2.", DefaultValueFactory = _ => Defaults.Beta2 };
    public Option<double> Epsilon { get; } = new("--adam-eps") { Description = "AdamW epsilon.", DefaultValueFactory = _ => Defaults.Epsilon };
    public Option<double> LoraDropout { get; } = new("--lora-dropout") { Description = "Dropout on the LoRA input while training.", DefaultValueFactory = _ => Defaults.LoraDropout };

    private readonly bool _perRun;

    /// <param name="perRun">
    /// Include the flags that belong to one training run (--checkpoint-dir, --resume, --validate-every); the evaluation
    /// runner manages those per video.
    /// </param>
    public CustomizationFlags(bool perRun) => _perRun = perRun;

    /// <summary>Adds the flags to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        Option[] shared = [Tau, Steps, LearningRate, Rank, Alpha, Targets, Full, Warmup, WeightDecay, ClipGrad, Seed, CheckpointEvery, KeepCheckpoints,
            GradientCheckpointing, LoraMode, NoiseDraws, Beta1, Beta2, Epsilon, LoraDropout];
        foreach (var option in shared) command.Options.Add(option);
        if (_perRun)
            foreach (var option in new Option[] { CheckpointDirectory, Resume, ValidateEvery }) command.Options.Add(option);
    }

    /// <summary>The options the flags give, with the paper's tau for <paramref name="architecture"/> when --tau is not given.</summary>
    public CustomizationOptions Read(ParseResult parse, Architecture architecture) => new()
    {
        Tau = parse.GetValue(Tau) ?? CustomizationOptions.RecommendedTau(architecture),
        Steps = parse.GetValue(Steps),
        LearningRate = parse.GetValue(LearningRate),
        Rank = parse.GetValue(Rank),
        Alpha = parse.GetValue(Alpha),
        Targets = parse.GetValue(Targets)!,
        Full = parse.GetValue(Full),
        Warmup = parse.GetValue(Warmup),
        WeightDecay = parse.GetValue(WeightDecay),
        ClipGrad = parse.GetValue(ClipGrad),
        Seed = parse.GetValue(Seed),
        CheckpointEvery = parse.GetValue(CheckpointEvery),
        CheckpointDirectory = _perRun ? parse.GetValue(CheckpointDirectory) : null,
        KeepCheckpoints = parse.GetValue(KeepCheckpoints),
        Resume = _perRun ? parse.GetValue(Resume) : null,
        GradientCheckpointing = parse.GetValue(GradientCheckpointing),
        LoraMode = ParseLoraMode(parse.GetValue(LoraMode)),
        NoiseDraws = parse.GetValue(NoiseDraws),
        ValidateEvery = _perRun ? parse.GetValue(ValidateEvery) : 0,
        Beta1 = parse.GetValue(Beta1),
        Beta2 = parse.GetValue(Beta2),
        Epsilon = parse.GetValue(Epsilon),
        LoraDropout = parse.GetValue(LoraDropout),
    };

    public static Customization.LoraMode ParseLoraMode(string? text) => text switch
    {
        null or "merged" => Customization.LoraMode.Merged,
        "separate" => Customization.LoraMode.Separate,
        _ => throw new ArgumentException($"--lora-mode: '{text}' is not merged or separate."),
    };
}
