using MotionTune.Customization;
using MotionTune.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Bench.Cases;

/// <summary>What one model's benchmark measured.</summary>
public sealed record CaseResult
{
    /// <summary>Model name.</summary>
    public required string Model { get; init; }
    /// <summary>Shapes, in words.</summary>
    public required string Shapes { get; init; }
    /// <summary>Parameters of the denoiser.</summary>
    public long Parameters { get; init; }
    /// <summary>FLOPs of one batch-2 forward pass (a CFG sampling step).</summary>
    public long SamplingStepFlops { get; init; }
    /// <summary>Median ms of a CFG sampling step (batch 2, no grad).</summary>
    public double SamplingStepMs { get; init; }
    /// <summary>All sampling step times.</summary>
    public double[] SamplingStepRuns { get; init; } = [];
    /// <summary>Median ms of a rank-4 LoRA training step (batch 1: forward, loss, backward, AdamW).</summary>
    public double TrainingStepMs { get; init; }
    /// <summary>All training step times.</summary>
    public double[] TrainingStepRuns { get; init; } = [];
    /// <summary>Peak GPU memory of a training step, GiB.</summary>
    public double TrainingPeakGiB { get; init; }
    /// <summary>Peak GPU memory of a sampling step, GiB.</summary>
    public double SamplingPeakGiB { get; init; }
    /// <summary>How memory was measured.</summary>
    public string MemoryMethod { get; init; } = "";
    /// <summary>Sampling TFLOP/s.</summary>
    public double SamplingTflops => SamplingStepMs > 0 ? SamplingStepFlops / (SamplingStepMs * 1e-3) / 1e12 : 0;
    /// <summary>Extra figures (VAE decode, end-to-end customization, variants), by name.</summary>
    public Dictionary<string, double> Extra { get; init; } = [];
}

/// <summary>
/// A denoiser benchmark: a full-size model with random bf16 weights, the sampling-step inputs (batch 2) and the
/// training-step inputs (batch 1, rank-4 LoRA on the paper's targets).
/// </summary>
public abstract class BenchCase
{
    /// <summary>Model name.</summary>
    public abstract string Name { get; }
    /// <summary>Shapes, in words.</summary>
    public abstract string Shapes { get; }
    /// <summary>The architecture (for the LoRA target preset).</summary>
    public abstract Architecture Architecture { get; }

    /// <summary>Builds the model with random weights on <paramref name="device"/> in <paramref name="dtype"/>.</summary>
    public abstract nn.Module Build(Device device, ScalarType dtype);

    /// <summary>One forward pass on a batch of <paramref name="batch"/> with fresh random inputs made by <see cref="Inputs"/>.</summary>
    public abstract Tensor Forward(nn.Module model, object inputs);

    /// <summary>Random inputs for a batch.</summary>
    public abstract object Inputs(int batch, Device device, ScalarType dtype);

    /// <summary>Model-specific extra figures (e.g. the VAE decode of one video), by name.</summary>
    public virtual Dictionary<string, double> Extras(Device device, int warmup, int runs, Action<string> log) => [];

    /// <summary>Runs the standard measurements.</summary>
    public CaseResult Run(Device device, int warmup, int runs, Action<string> log, ISet<string>? parts = null)
    {
        var dtype = ScalarType.BFloat16;
        log($"{Name}: building with random bf16 weights");
        var model = Build(device, dtype);
        model.eval();
        long parameters = model.parameters().Sum(p => p.numel());

        // Sampling: one batch-2 forward (the cond + uncond halves of classifier-free guidance).
        var sampleInputs = Inputs(2, device, dtype);
        long flops;
        using (inference_mode()) flops = FlopCounter.Measure(() => Forward(model, sampleInputs).Dispose());
        log($"{Name}: {parameters:N0} parameters, {flops / 1e12:F2} TFLOP per CFG step; timing sampling");
        bool Wants(string part) => parts is null || parts.Contains(part);
        Timing sampling = new([0]);
        MemoryPeak samplingPeak = new(0, "");
        if (Wants("sample"))
        using (inference_mode())
        {
            sampling = Measure.Time(device, () => Forward(model, sampleInputs).Dispose(), warmup, runs);
            samplingPeak = Measure.PeakMemory(device, () => Forward(model, sampleInputs).Dispose());
        }

        // Training: rank-4 LoRA on the temporal (or 3D) attention projections, fp32 adapters, AdamW.
        log($"{Name}: timing a rank-4 LoRA training step");
        foreach (var p in model.parameters()) p.requires_grad_(false);
        using var lora = LoraNetwork.Attach(model, LoraTargets.Preset(Architecture, "temporal-qkvo"), new LoraSettings { Rank = 4, Alpha = 4 });
        var optimizer = optim.AdamW(lora.Parameters(), lr: 1e-4);
        var trainInputs = Inputs(1, device, dtype);
        model.train();
        void TrainStep()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var output = Forward(model, trainInputs);
            var target = randn_like(output);
            var loss = F.mse_loss(output.to(ScalarType.Float32), target.to(ScalarType.Float32));
            loss.backward();
            optimizer.step();
        }
        var training = Wants("train") ? Measure.Time(device, TrainStep, warmup, runs) : new Timing([0]);
        var trainingPeak = Wants("train") ? Measure.PeakMemory(device, TrainStep) : new MemoryPeak(0, "");
        model.eval();
        optimizer.Dispose();
        lora.Detach();
        model.Dispose();
        var extras = Wants("extras") ? Extras(device, warmup, runs, log) : [];

        return new CaseResult
        {
            Model = Name, Shapes = Shapes, Parameters = parameters, SamplingStepFlops = flops,
            SamplingStepMs = sampling.Median, SamplingStepRuns = sampling.Milliseconds,
            TrainingStepMs = training.Median, TrainingStepRuns = training.Milliseconds,
            TrainingPeakGiB = trainingPeak.GiB, SamplingPeakGiB = samplingPeak.GiB, MemoryMethod = trainingPeak.Method,
            Extra = extras,
        };
    }
}
