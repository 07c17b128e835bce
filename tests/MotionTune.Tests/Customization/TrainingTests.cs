using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Transformers;
using MotionTune.Pipelines;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

public sealed class TrainingTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly CustomizationOptions Quick = new()
    {
        Tau = 500, Steps = 6, LearningRate = 1e-3, CheckpointEvery = 0, Rank = 4, Alpha = 4,
    };

    private sealed record Run(LatteTransformer3DModel Model, ICustomization Customization, MotionCustomizer Trainer) : IDisposable
    {
        public void Dispose()
        {
            Customization.Dispose();
            Model.Dispose();
        }
    }

    private static Run Setup(CustomizationOptions options, ScalarType dtype = ScalarType.Float32, string predictionType = "epsilon")
    {
        var model = TinyLatte.Model(0, dtype);
        var customization = options.CreateCustomization(model, Architecture.Latte, "tiny-latte");
        var trainer = new MotionCustomizer(new LatteDenoiser(model), model, customization, TinyLatte.Scheduler(predictionType), options);
        return new Run(model, customization, trainer);
    }

    private static float Mean(IEnumerable<float> values) => values.Average();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingLowersTheLossOnTheClip(bool full)
    {
        var options = Quick with { Full = full, Steps = 40, LearningRate = full ? 3e-3 : 2e-2, WeightDecay = 0 };
        using var run = Setup(options);
        var example = TinyLatte.Example();
        // Fixed draws from [tau, T), the same before and after.
        var (timesteps, noise) = TrainingDraws.ForStep(99, 1, options.Tau, 1000, 16, TinyLatte.LatentShape, CPU);

        float before = run.Trainer.EvaluateLoss(example, timesteps, noise);
        var result = run.Trainer.Train(example);
        float after = run.Trainer.EvaluateLoss(example, timesteps, noise);

        output.WriteLine($"{(full ? "full" : "lora")}: fixed-draw loss {before:F5} -> {after:F5}; " +
            $"training curve first 5 {Mean(result.Losses.Take(5)):F5}, last 5 {Mean(result.Losses.TakeLast(5)):F5}");
        Assert.Equal(options.Steps, result.Losses.Count);
        Assert.True(after < 0.97 * before, $"loss on fixed draws {before} -> {after}");
    }

    [Fact]
    public void TheSameSeedGivesTheSameCurveAndAnotherSeedAnother()
    {
        var example = TinyLatte.Example();
        float[] Curve(long seed, out Tensor weights)
        {
            using var run = Setup(Quick with { Seed = seed, Steps = 4 });
            var losses = run.Trainer.Train(example).Losses.ToArray();
            weights = cat(run.Customization.TrainableTensors.Select(p => p.Value.detach().flatten()).ToArray()).DetachFromDisposeScope();
            return losses;
        }
        var a = Curve(3, out var wa);
        var b = Curve(3, out var wb);
        var c = Curve(4, out var wc);
        Assert.Equal(a, b);
        Assert.True(wa.SameAs(wb));
        Assert.NotEqual(a, c);
        Assert.False(wa.SameAs(wc));
    }

    [Theory]
    [InlineData(false, ScalarType.Float32)]
    [InlineData(false, ScalarType.BFloat16)]
    [InlineData(true, ScalarType.BFloat16)]
    public void ResumingContinuesExactlyAsIfNeverStopped(bool full, ScalarType dtype)
    {
        var example = TinyLatte.Example();
        var options = Quick with { Full = full, Steps = 6, CheckpointEvery = 3, Warmup = 4, LoraDropout = full ? 0 : 0.1 };
        var straightDir = Path.Combine(_dir, "straight");
        var stoppedDir = Path.Combine(_dir, "stopped");

        TrainingResult straight;
        using (var run = Setup(options with { CheckpointDirectory = straightDir }, dtype))
            straight = run.Trainer.Train(example);

        using (var run = Setup(options with { CheckpointDirectory = stoppedDir, Steps = 3 }, dtype))
            run.Trainer.Train(example);
        TrainingResult resumed;
        using (var run = Setup(options with { CheckpointDirectory = stoppedDir, Resume = stoppedDir }, dtype))
            resumed = run.Trainer.Train(example);

        Assert.Equal(3, resumed.ResumedFrom);
        Assert.Equal(straight.Losses, resumed.Losses);
        using var a = SafeTensorsFile.Open(TrainingCheckpoint.PathFor(straightDir, 6));
        using var b = SafeTensorsFile.Open(TrainingCheckpoint.PathFor(stoppedDir, 6));
        Assert.Equal(a.Entries.Keys.Order(), b.Entries.Keys.Order());
        Assert.Contains(a.Entries.Keys, k => k.StartsWith("adamw.exp_avg_sq.", StringComparison.Ordinal));
        foreach (var key in a.Entries.Keys)
            Assert.True(a.Read(key).SameAs(b.Read(key)), $"{key} differs after resuming");
        output.WriteLine($"{(full ? "full" : "lora")} {dtype}: losses {string.Join(", ", straight.Losses.Select(l => l.ToString("F5")))} (resumed after 3: identical)");
    }

    [Fact]
    public void CheckpointsAreWholeFilesWithNoTemporariesLeft()
    {
        var dir = Path.Combine(_dir, "checkpoints");
        Directory.CreateDirectory(dir);
        File.WriteAllText(TrainingCheckpoint.PathFor(dir, 4), "stale partial file from an earlier run");
        using var run = Setup(Quick with { Steps = 5, CheckpointEvery = 2, CheckpointDirectory = dir });
        var result = run.Trainer.Train(TinyLatte.Example());

        var files = Directory.GetFiles(dir).Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal(["checkpoint-000002.safetensors", "checkpoint-000004.safetensors", "checkpoint-000005.safetensors"], files);
        Assert.Equal(TrainingCheckpoint.PathFor(dir, 5), result.LastCheckpoint);
        foreach (var (step, path) in new[] { 2, 4, 5 }.Select(s => (s, TrainingCheckpoint.PathFor(dir, s))))
        {
            using var checkpoint = TrainingCheckpoint.Load(path);
            Assert.Equal(step, checkpoint.Step);
            Assert.Equal(result.Losses.Take(step), checkpoint.Losses);
            Assert.Equal("lora", checkpoint.Method);
        }
        Assert.Equal(TrainingCheckpoint.PathFor(dir, 5), TrainingCheckpoint.Resolve(dir));

        var kept = Path.Combine(_dir, "kept");
        using var again = Setup(Quick with { Steps = 5, CheckpointEvery = 1, CheckpointDirectory = kept, KeepCheckpoints = 2 });
        again.Trainer.Train(TinyLatte.Example());
        Assert.Equal(["checkpoint-000004.safetensors", "checkpoint-000005.safetensors"],
            Directory.GetFiles(kept).Select(f => Path.GetFileName(f)!).Order().ToArray());
    }

    [Fact]
    public void BadOptionsAndInputsGetClearErrors()
    {
        var model = TinyLatte.Model();
        var scheduler = TinyLatte.Scheduler();
        using var lora = Quick.CreateCustomization(model, Architecture.Latte);
        var denoiser = new LatteDenoiser(model);
        string Problem(CustomizationOptions options) =>
            Assert.Throws<ArgumentException>(() => new MotionCustomizer(denoiser, model, lora, scheduler, options)).Message;

        Assert.Contains("--tau 1000 is out of range", Problem(Quick with { Tau = 1000 }));
        Assert.Contains("[0, 999]", Problem(Quick with { Tau = 1000 }));
        Assert.Contains("--tau -1", Problem(Quick with { Tau = -1 }));
        Assert.Contains("--steps must be positive, not 0", Problem(Quick with { Steps = 0 }));
        Assert.Contains("--lr must be a positive number, not 0", Problem(Quick with { LearningRate = 0 }));
        Assert.Contains("--lr", Problem(Quick with { LearningRate = double.NaN }));
        Assert.Contains("--rank", Problem(Quick with { Rank = 0 }));
        Assert.Contains("--warmup", Problem(Quick with { Warmup = -1 }));
        Assert.Contains("--clip-grad", Problem(Quick with { ClipGrad = -1 }));
        Assert.Contains("--noise-draws", Problem(Quick with { NoiseDraws = 0 }));
        var several = Problem(Quick with { Steps = -3, WeightDecay = -1 });
        Assert.Contains("--steps", several);
        Assert.Contains("--weight-decay", several);
        Assert.Contains("is 'lora'", Problem(Quick with { Full = true }));

        var trainer = new MotionCustomizer(denoiser, model, lora, scheduler, Quick);
        var clip = TinyLatte.Example();
        Assert.Contains("(1, C, F, H, W)", Assert.Throws<ArgumentException>(() =>
            trainer.Train(clip with { Latents = randn([2, 4, 3, 8, 8]) })).Message);
        Assert.Contains("one prompt", Assert.Throws<ArgumentException>(() =>
            trainer.Train(clip with { Condition = new TextCondition(randn(2, 5, 12)) })).Message);
        Assert.Throws<FileNotFoundException>(() =>
            new MotionCustomizer(denoiser, model, lora, scheduler, Quick with { Resume = Path.Combine(_dir, "missing") }).Train(clip));
    }

    [Fact]
    public void AResumeWithOtherTrajectorySettingsIsRefused()
    {
        var dir = Path.Combine(_dir, "run");
        using (var run = Setup(Quick with { Steps = 2, CheckpointEvery = 2, CheckpointDirectory = dir }))
            run.Trainer.Train(TinyLatte.Example());
        using var other = Setup(Quick with { Steps = 4, LearningRate = 5e-4, Tau = 600, Resume = dir, GradientCheckpointing = true });
        var message = Assert.Throws<ArgumentException>(() => other.Trainer.Train(TinyLatte.Example())).Message;
        Assert.Contains("--lr: checkpoint 0.001, now 0.0005", message);
        Assert.Contains("--tau: checkpoint 500, now 600", message);
        Assert.DoesNotContain("--steps", message);
        Assert.DoesNotContain("gradient", message);
    }

    [Fact]
    public void GradientCheckpointingGivesTheSameTraining()
    {
        var example = TinyLatte.Example();
        (float[] Losses, Tensor Weights) Train(bool checkpointing)
        {
            using var run = Setup(Quick with { Steps = 3, GradientCheckpointing = checkpointing });
            var losses = run.Trainer.Train(example).Losses.ToArray();
            Assert.False(run.Model.GradientCheckpointing, "the model's flag is restored after training");
            var weights = cat(run.Customization.TrainableTensors.Select(p => p.Value.detach().flatten()).ToArray()).DetachFromDisposeScope();
            return (losses, weights);
        }
        var plain = Train(false);
        var checkpointed = Train(true);
        double difference = (plain.Weights - checkpointed.Weights).abs().max().item<float>();
        output.WriteLine($"LoRA weights after 3 steps, checkpointed vs not: max abs difference {difference:E2}");
        Assert.Equal(plain.Losses[0], checkpointed.Losses[0]);
        Assert.True(difference < 1e-6, $"difference {difference}");
        // Frozen inputs must still let gradients reach the adapters inside checkpointed blocks.
        using var fresh = Setup(Quick);
        var initial = cat(fresh.Customization.TrainableTensors.Select(p => p.Value.detach().flatten()).ToArray());
        Assert.False(checkpointed.Weights.allclose(initial), "checkpointed training did not move the LoRA");
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    [InlineData("sample")]
    public void TheLossIsTheMseToTheTargetOfThePredictionType(string predictionType)
    {
        using var run = Setup(Quick, predictionType: predictionType);
        var example = TinyLatte.Example();
        var scheduler = TinyLatte.Scheduler(predictionType);
        var (timesteps, noise) = TrainingDraws.ForStep(5, 1, 0, 1000, 3, TinyLatte.LatentShape, CPU);
        float loss = run.Trainer.EvaluateLoss(example, timesteps, noise);

        using var _ = no_grad();
        var x0 = example.Latents.expand(3, -1, -1, -1, -1);
        var alpha = tensor(timesteps.data<long>().Select(t => (float)scheduler.AlphaCumprodAt(t)).ToArray()).reshape(-1, 1, 1, 1, 1);
        var noisy = alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise;
        var target = predictionType switch
        {
            "epsilon" => noise,
            "sample" => x0,
            _ => alpha.sqrt() * noise - (1 - alpha).sqrt() * x0,
        };
        var prediction = new LatteDenoiser(run.Model).Predict(noisy, timesteps, example.Condition.ForBatch(3));
        float expected = (prediction - target).square().mean().item<float>();
        Assert.Equal(expected, loss, 5);
    }

    [Fact]
    public void ProgressAndValidationDoNotDisturbTraining()
    {
        var example = TinyLatte.Example();
        var options = Quick with { Steps = 4, ValidateEvery = 2 };
        float[] reference;
        using (var run = Setup(options))
            reference = run.Trainer.Train(example).Losses.ToArray();

        using var validated = Setup(options);
        var reports = new List<TrainingProgress>();
        var validations = new List<int>();
        var sampler = new VideoSampler(new LatteDenoiser(validated.Model), TinyLatte.Scheduler());
        var result = validated.Trainer.Train(example, reports.Add, v =>
        {
            Assert.False(is_grad_enabled());
            validations.Add(v.Step);
            // A validation sample with the LoRA merged, as the CLI will draw one.
            var start = randn(TinyLatte.LatentShape, generator: new Generator(1));
            CustomizedSampling.Sample(sampler, v.Customization, 500, start, 4, new SamplingPrompts(TinyLatte.Prompt(2)), 1);
        });
        Assert.Equal(reference, result.Losses);
        Assert.Equal([2, 4], validations);
        Assert.Equal([1, 2, 3, 4], reports.Select(r => r.Step));
        Assert.All(reports, r => Assert.True(r.Timesteps.All(t => t >= 500) && r.StepsPerSecond > 0 && r.Steps == 4));
        Assert.Equal(TimeSpan.Zero, reports[^1].Eta);
        Assert.True(validated.Customization.Active);
        Assert.Equal(500, validated.Customization.Tau);
    }
}
