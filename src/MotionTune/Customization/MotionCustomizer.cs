using System.Diagnostics;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Customization;

/// <summary>
/// The one training clip: its clean latents x₀ (1, C, F, H, W), encoded once by the pipeline's VAE (and scaled as the
/// pipeline scales them), and its caption's text condition, encoded once.
/// </summary>
public sealed record TrainingExample(Tensor Latents, TextCondition Condition);

/// <summary>Progress after one training step.</summary>
/// <param name="Step">Steps done (1-based, counting steps before a resume).</param>
/// <param name="Steps">Steps in the run.</param>
/// <param name="Loss">This step's loss (mean over its noise draws).</param>
/// <param name="LearningRate">The learning rate the step used.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="Timesteps">The step's timesteps.</param>
/// <param name="StepsPerSecond">Training steps per second in this session (after the first step, which warms up).</param>
/// <param name="Elapsed">Time since this session's first step began.</param>
/// <param name="Eta">Estimated time to the last step.</param>
public sealed record TrainingProgress(int Step, int Steps, float Loss, double LearningRate, double GradientNorm,
    IReadOnlyList<long> Timesteps, double StepsPerSecond, TimeSpan Elapsed, TimeSpan Eta);

/// <summary>What a validation callback gets: the step, and the customization ready for sampling (inference mode).</summary>
public sealed record TrainingValidation(int Step, ICustomization Customization);

/// <summary>The outcome of <see cref="MotionCustomizer.Train"/>.</summary>
/// <param name="Losses">
/// The loss of every step from 1 (resumed ones included) to <see cref="CustomizationOptions.Steps"/>, or to the step where
/// the run was cancelled.
/// </param>
/// <param name="ResumedFrom">The step the run resumed after (0 for a fresh run).</param>
/// <param name="LastCheckpoint">The newest checkpoint written, if any.</param>
/// <param name="Elapsed">Wall time of this session.</param>
public sealed record TrainingResult(IReadOnlyList<float> Losses, int ResumedFrom, string? LastCheckpoint, TimeSpan Elapsed);

/// <summary>
/// Timestep-constrained one-shot customization (paper section 4): train a <see cref="ICustomization"/> on one clip
/// with the plain diffusion loss, with t drawn uniformly from the integers [τ, T) only. Each step: draw t and noise from
/// (seed, step), noise x₀ to x_t, predict, take the float32 MSE to the scheduler's target (ε, v or x₀ by its
/// prediction type), backpropagate into the float32 trainable tensors (the base model frozen, in any dtype), clip the
/// global gradient norm, and take an AdamW step with linear warmup.
/// </summary>
public sealed class MotionCustomizer
{
    private readonly IVideoDenoiser _denoiser;
    private readonly nn.Module _model;
    private readonly ICustomization _customization;
    private readonly DdimScheduler _scheduler;

    /// <summary>The options (validated).</summary>
    public CustomizationOptions Options { get; }

    /// <summary>A trainer for <paramref name="customization"/>, attached to <paramref name="model"/>, which <paramref name="denoiser"/> runs.</summary>
    /// <exception cref="ArgumentException">Invalid options, or gradient checkpointing asked of a model that has none.</exception>
    public MotionCustomizer(IVideoDenoiser denoiser, nn.Module model, ICustomization customization, DdimScheduler scheduler, CustomizationOptions options)
    {
        options.Validate(scheduler.Config.NumTrainTimesteps);
        if (options.GradientCheckpointing && model is not IGradientCheckpointing)
            throw new ArgumentException($"--gradient-checkpointing: {model.GetType().Name} does not support gradient checkpointing.");
        if (customization.Method != (options.Full ? "full" : "lora"))
            throw new ArgumentException($"The options train '{(options.Full ? "full" : "lora")}', but the customization is '{customization.Method}'.");
        if (customization.TrainableTensors.Count == 0) throw new ArgumentException("The customization has nothing to train.");
        _denoiser = denoiser;
        _model = model;
        _customization = customization;
        _scheduler = scheduler;
        Options = options;
    }

    /// <summary>
    /// Trains from step 1 (or from the <see cref="CustomizationOptions.Resume"/> checkpoint) to
    /// <see cref="CustomizationOptions.Steps"/>. The base model's parameters are frozen meanwhile and their
    /// <c>requires_grad</c> flags restored afterwards, and it runs in inference mode (no dropout of its own); the
    /// customization ends switched on, in inference mode, with τ set. All randomness (timesteps, noise, LoRA dropout)
    /// follows from (seed, step), never from torch's global generator.
    /// </summary>
    /// <param name="example">The clip's latents and caption condition.</param>
    /// <param name="progress">Called after each step.</param>
    /// <param name="validate">Called every <see cref="CustomizationOptions.ValidateEvery"/> steps, without gradients.</param>
    /// <param name="cancellation">Stops between steps (after writing a checkpoint when checkpoints are on).</param>
    /// <exception cref="ArgumentException">A bad example, or a checkpoint that does not belong to this run.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite.</exception>
    public TrainingResult Train(TrainingExample example, Action<TrainingProgress>? progress = null,
        Action<TrainingValidation>? validate = null, CancellationToken cancellation = default)
    {
        CheckExample(example);
        var options = Options;
        var trainable = _customization.TrainableTensors;
        var device = trainable[0].Value.device;
        var losses = new List<float>();
        string? lastCheckpoint = null;

        var baseFlags = _model.parameters().Select(p => (p, p.requires_grad)).ToList();
        bool modelTraining = _model.training;
        var checkpointing = _model as IGradientCheckpointing;
        bool checkpointingBefore = checkpointing?.GradientCheckpointing ?? false;
        CustomizationOptimizer? optimizer = null;
        GraphedSteps? graphs = null;
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var p in _model.parameters()) p.requires_grad = false;
            _customization.Tau = options.Tau;
            _model.eval();
            _customization.BeginTraining();
            optimizer = new CustomizationOptimizer(_customization, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
            if (checkpointing is not null) checkpointing.GradientCheckpointing = options.GradientCheckpointing;

            int start = options.Resume is null ? 0 : Restore(TrainingCheckpoint.Resolve(options.Resume), optimizer.AdamW, losses);
            _customization.PublishWeights();

            Tensor x0;
            using (NewDisposeScope())
                x0 = example.Latents.detach().to(ScalarType.Float32, device).expand(options.NoiseDraws, -1, -1, -1, -1).contiguous()
                    .MoveToOuterDisposeScope();
            using var _ = x0;
            var batched = example.Condition.ForBatch(options.NoiseDraws);
            var condition = new TextCondition(batched.HiddenStates.to(device), batched.AttentionMask?.to(device));
            var meter = new StepMeter(options.Steps - start);
            graphs = CanGraphSteps(device) ? new GraphedSteps(this, x0, condition, optimizer) : null;
            for (int step = start + 1; step <= options.Steps; step++)
            {
                var stepClock = Stopwatch.StartNew();
                var (loss, gradientNorm, timesteps) = TrainStep(step, x0, condition, optimizer, graphs);
                losses.Add(loss);
                meter.StepDone(stepClock.Elapsed);
                progress?.Invoke(new TrainingProgress(step, options.Steps, loss, options.LearningRateAt(step), gradientNorm, timesteps,
                    meter.StepsPerSecond, meter.Elapsed, meter.Eta));

                bool last = step == options.Steps || cancellation.IsCancellationRequested;
                if (options.CheckpointDirectory is not null && options.CheckpointEvery > 0 && (step % options.CheckpointEvery == 0 || last))
                    lastCheckpoint = SaveCheckpoint(step, optimizer.AdamW, losses);
                if (validate is not null && options.ValidateEvery > 0 && step % options.ValidateEvery == 0)
                    Validate(step, validate);
                if (cancellation.IsCancellationRequested) break;
            }
            return new TrainingResult(losses, start, lastCheckpoint, clock.Elapsed);
        }
        finally
        {
            graphs?.Dispose();
            optimizer?.Dispose();
            _customization.ClearGradients();
            _customization.EndTraining();
            _customization.Active = true;
            foreach (var (p, flag) in baseFlags) p.requires_grad = flag;
            _model.train(modelTraining);
            if (checkpointing is not null) checkpointing.GradientCheckpointing = checkpointingBefore;
        }
    }

    /// <summary>
    /// The loss for the given draws (timesteps (B) and noise (B, C, F, H, W)) without gradients: compare the customization
    /// before and after training on fixed draws.
    /// </summary>
    public float EvaluateLoss(TrainingExample example, Tensor timesteps, Tensor noise)
    {
        CheckExample(example);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long batch = noise.shape[0];
        var device = _customization.TrainableTensors[0].Value.device;
        var x0 = example.Latents.to(ScalarType.Float32, device).expand(batch, -1, -1, -1, -1);
        return Loss(x0, noise.to(ScalarType.Float32, device), timesteps, example.Condition.ForBatch(batch)).item<float>();
    }

    private (float Loss, double GradientNorm, long[] Timesteps) TrainStep(int step, Tensor x0, TextCondition condition,
        CustomizationOptimizer optimizer, GraphedSteps? graphs)
    {
        var options = Options;
        using var scope = NewDisposeScope();
        _customization.ReseedDropout(TrainingDraws.DerivedSeed(options.Seed, TrainingDraws.DropoutStreamOffset + step));
        var (timesteps, noise) = TrainingDraws.ForStep(options.Seed, step, options.Tau, _scheduler.Config.NumTrainTimesteps,
            options.NoiseDraws, x0.shape, x0.device);

        var drawn = timesteps.data<long>().ToArray();
        if (graphs?.Step(timesteps, noise, options.LearningRateAt(step), options.ClipGrad) is var (graphLoss, graphNorm))
        {
            // The device skipped the update of a non-finite loss, so the weights are still those of the step before.
            if (!float.IsFinite(graphLoss))
                throw new InvalidOperationException(
                    $"The training loss became {graphLoss} at step {step} (t = {string.Join(", ", drawn)}); lower --lr or enable --clip-grad.");
            return (graphLoss, graphNorm, drawn);
        }
        var loss = Loss(x0, noise, timesteps, condition);
        // Backward is queued before the loss is read back, so the GPU is not left idle between the two; a non-finite
        // loss still stops the run before the optimizer touches the weights.
        loss.backward();
        float value = loss.item<float>();
        if (!float.IsFinite(value))
            throw new InvalidOperationException(
                $"The training loss became {value} at step {step} (t = {string.Join(", ", drawn)}); lower --lr or enable --clip-grad.");
        double norm = optimizer.Step(options.LearningRateAt(step), options.ClipGrad);
        return (value, norm, drawn);
    }

    /// <summary>
    /// Whether the steps can run as a replayed CUDA graph (<see cref="GraphedTrainingStep"/>): on CUDA with graphs enabled
    /// and available, LoRA (packed tensors), and nothing that must change between steps outside the graph (LoRA dropout
    /// reseeded per step) or read back inside one (gradient checkpointing replays its dropout draws from the CPU).
    /// </summary>
    private bool CanGraphSteps(Device device) =>
        device.type == TorchSharp.DeviceType.CUDA && CudaGraph.Enabled && _customization.Packed is not null
        && Options.LoraDropout <= 0 && !Options.GradientCheckpointing && CudaGraph.Available;

    /// <summary>
    /// The training loop's CUDA-graph path: the first step runs for real and is captured; later steps noise x₀ with their
    /// draws (a few operations, outside the graph: the scheduler checks the timesteps on the CPU), copy x_t, t and the
    /// target into the tensors the captured loss reads, and replay. If the capture fails, the rest of the run takes the
    /// ordinary path (with one warning).
    /// </summary>
    private sealed class GraphedSteps(MotionCustomizer owner, Tensor x0, TextCondition condition, CustomizationOptimizer optimizer) : IDisposable
    {
        private Tensor? _noisy, _timesteps, _target;
        private GraphedTrainingStep? _step;
        private bool _failed;

        /// <summary>This step's loss and gradient norm, or null when the caller must take the ordinary path.</summary>
        public (float Loss, double GradientNorm)? Step(Tensor timesteps, Tensor noise, double learningRate, double clipGrad)
        {
            if (_failed) return null;
            using var scope = NewDisposeScope();
            var (noisy, t, target) = owner.NoisedExample(x0, noise, timesteps);
            if (_step is not null)
            {
                _noisy!.copy_(noisy);
                _timesteps!.copy_(t);
                _target!.copy_(target);
                return _step.Step(learningRate);
            }
            _noisy = noisy.clone().DetachFromDisposeScope();
            _timesteps = t.clone().DetachFromDisposeScope();
            _target = target.clone().DetachFromDisposeScope();
            (float, float)? first = null;
            try
            {
                _step = GraphedTrainingStep.Capture(x0.device, optimizer, () => owner.LossOf(_noisy, _timesteps, _target, condition),
                    clipGrad, learningRate, out var warmup, r => first = r);
                return warmup;
            }
            catch (InvalidOperationException e)
            {
                _failed = true;
                Log.Warning($"Training continues without CUDA graphs: {e.Message}");
                optimizer.AdamW.ReadStepsFromDevice(); // the ordinary optimizer counts steps on the CPU
                return first; // the warm-up was a real step; without it, the caller runs this step
            }
        }

        public void Dispose()
        {
            _step?.Dispose();
            foreach (var t in new[] { _noisy, _timesteps, _target }) t?.Dispose();
        }
    }

    // The float32 mean squared error between the model's prediction for x_t and the scheduler's training target.
    private Tensor Loss(Tensor x0, Tensor noise, Tensor timesteps, TextCondition condition)
    {
        using var scope = NewDisposeScope();
        var (noisy, t, target) = NoisedExample(x0, noise, timesteps);
        return LossOf(noisy, t, target, condition).MoveToOuterDisposeScope();
    }

    // x_t, the timesteps on x₀'s device, and the scheduler's training target (ε, v or x₀) for the draws.
    private (Tensor Noisy, Tensor Timesteps, Tensor Target) NoisedExample(Tensor x0, Tensor noise, Tensor timesteps)
    {
        var t = timesteps.to(x0.device);
        return (_scheduler.AddNoise(x0, noise, t), t, _scheduler.TrainingTarget(x0, noise, t));
    }

    private Tensor LossOf(Tensor noisy, Tensor t, Tensor target, TextCondition condition)
    {
        using var scope = NewDisposeScope();
        var prediction = _denoiser.Predict(noisy, t, condition);
        if (!prediction.shape.SequenceEqual(noisy.shape))
            throw new InvalidOperationException(
                $"The denoiser returned shape [{string.Join(", ", prediction.shape)}] for latents [{string.Join(", ", noisy.shape)}].");
        return F.mse_loss(prediction.to(ScalarType.Float32), target.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    private int Restore(string path, AdamW optimizer, List<float> losses)
    {
        using var checkpoint = TrainingCheckpoint.Load(path);
        var problems = new List<string>(checkpoint.Differences(Options.TrajectorySettings()));
        if (checkpoint.Method != _customization.Method) problems.Add($"method: checkpoint {checkpoint.Method}, now {_customization.Method}");
        var names = _customization.TrainableTensors.Select(p => p.Key).ToList();
        if (!checkpoint.Trainable.Keys.Order(StringComparer.Ordinal).SequenceEqual(names.Order(StringComparer.Ordinal)))
            problems.Add($"trainable tensors: the checkpoint has {checkpoint.Trainable.Count} ({checkpoint.Trainable.Keys.FirstOrDefault()} …), " +
                $"this model {names.Count} ({names.FirstOrDefault()} …)");
        if (checkpoint.Step > Options.Steps) problems.Add($"--steps {Options.Steps} is below the checkpoint's {checkpoint.Step} steps");
        if (problems.Count > 0)
            throw new ArgumentException($"--resume {path}: the checkpoint does not continue this run:\n  " + string.Join("\n  ", problems));

        using (no_grad())
            foreach (var (name, tensor) in _customization.TrainableTensors)
            {
                var saved = checkpoint.Trainable[name];
                if (!saved.shape.SequenceEqual(tensor.shape))
                    throw new CheckpointFormatException($"{path}: '{name}' has shape [{string.Join(", ", saved.shape)}], the model's is [{string.Join(", ", tensor.shape)}].");
                tensor.copy_(saved);
            }
        try { optimizer.LoadStateDict(checkpoint.Optimizer); }
        catch (ArgumentException e) { throw new CheckpointFormatException($"{path}: {e.Message}", e); }
        losses.AddRange(checkpoint.Losses);
        return checkpoint.Step;
    }

    private string SaveCheckpoint(int step, AdamW optimizer, IReadOnlyList<float> losses)
    {
        var path = TrainingCheckpoint.PathFor(Options.CheckpointDirectory!, step);
        new TrainingCheckpoint
        {
            Step = step, Method = _customization.Method, Settings = Options.TrajectorySettings(), Losses = losses.ToArray(),
            Trainable = _customization.TrainableTensors.ToDictionary(p => p.Key, p => p.Value),
            Optimizer = optimizer.StateDict().ToDictionary(p => p.Key, p => p.Value),
        }.Save(path);
        if (Options.KeepCheckpoints > 0)
            foreach (var old in Directory.EnumerateFiles(Options.CheckpointDirectory!, "checkpoint-*.safetensors")
                         .Order(StringComparer.Ordinal).SkipLast(Options.KeepCheckpoints).ToList())
                File.Delete(old);
        return path;
    }

    private void Validate(int step, Action<TrainingValidation> validate)
    {
        _customization.ClearGradients();
        _customization.EndTraining();
        try
        {
            using var _ = no_grad();
            validate(new TrainingValidation(step, _customization));
        }
        finally
        {
            _customization.BeginTraining();
        }
    }

    private static void CheckExample(TrainingExample example)
    {
        var latents = example.Latents;
        if (latents.dim() != 5 || latents.shape[0] != 1)
            throw new ArgumentException(
                $"The training latents must be one clip (1, C, F, H, W); got shape [{string.Join(", ", latents.shape)}].", nameof(example));
        if (example.Condition.BatchSize != 1)
            throw new ArgumentException($"The training caption must be one prompt; got {example.Condition.BatchSize}.", nameof(example));
    }

    /// <summary>
    /// Training steps per second and the time left. The first step is left out of the rate once there are others (it
    /// includes one-off work such as kernel selection), and so are checkpoints and validation.
    /// </summary>
    private sealed class StepMeter(int steps)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _first, _rest;
        private int _done;

        public TimeSpan Elapsed => _clock.Elapsed;
        public double StepsPerSecond { get; private set; }
        public TimeSpan Eta => StepsPerSecond > 0 ? TimeSpan.FromSeconds((steps - _done) / StepsPerSecond) : TimeSpan.Zero;

        public void StepDone(TimeSpan duration)
        {
            if (++_done == 1) _first = duration;
            else _rest += duration;
            var (count, time) = _done == 1 ? (1, _first) : (_done - 1, _rest);
            StepsPerSecond = time > TimeSpan.Zero ? count / time.TotalSeconds : 0;
        }
    }
}
