using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Pipelines;
using MotionTune.Runtime;
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
    /// <summary>Median ms of the training step as a replayed CUDA graph (<see cref="GraphedTrainingStep"/>), 0 if not measured.</summary>
    public double TrainingGraphMs { get; init; }
    /// <summary>All CUDA-graph training step times.</summary>
    public double[] TrainingGraphRuns { get; init; } = [];
    /// <summary>Peak GPU memory allocated while the graphed training step was warmed up and captured (its pool's size), GiB.</summary>
    public double TrainingGraphPeakGiB { get; init; }
    /// <summary>Peak GPU memory of a training step, GiB.</summary>
    public double TrainingPeakGiB { get; init; }
    /// <summary>Peak GPU memory of a sampling step, GiB.</summary>
    public double SamplingPeakGiB { get; init; }
    /// <summary>How memory was measured.</summary>
    public string MemoryMethod { get; init; } = "";
    /// <summary>Median ms of the same CFG step as a replayed CUDA graph (<see cref="CudaGraphDenoiser"/>), 0 if not measured.</summary>
    public double SamplingGraphMs { get; init; }
    /// <summary>All CUDA-graph sampling step times.</summary>
    public double[] SamplingGraphRuns { get; init; } = [];
    /// <summary>Largest |difference| of the CUDA-graph step's output from the eager step's, for the same inputs.</summary>
    public double SamplingGraphMaxDifference { get; init; }
    /// <summary>What the CUDA-graph step did instead, when it could not run (e.g. capture refused).</summary>
    public string? SamplingGraphNote { get; init; }
    /// <summary>Sampling TFLOP/s.</summary>
    public double SamplingTflops => SamplingStepMs > 0 ? SamplingStepFlops / (SamplingStepMs * 1e-3) / 1e12 : 0;
    /// <summary>Extra figures (VAE decode, end-to-end customization, variants), by name.</summary>
    public Dictionary<string, double> Extra { get; init; } = [];
}

/// <summary>One variant of an A/B run: the switches' state, step times (ms) and the sampling output's largest difference from the first variant's.</summary>
public sealed record AbResult(string Model, string Variant, string Switches, double SamplingStepMs, double TrainingStepMs, double MaxAbsDifference);

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

    /// <summary>The model as the sampler's denoiser (the production wrapper, e.g. <see cref="UNet3DDenoiser"/>).</summary>
    public abstract IVideoDenoiser Denoiser(nn.Module model);

    /// <summary>
    /// <see cref="Forward"/>'s pass through <paramref name="denoiser"/>: the inputs in the sampler's layout, the output as
    /// the sampler gets it (its first C channels, in (B, C, F, H, W)).
    /// </summary>
    public abstract Tensor Predict(IVideoDenoiser denoiser, object inputs);

    /// <summary>
    /// A/B comparison of the speed switches (<see cref="Toggles"/>): one model, the sampling step (and the training step
    /// when <paramref name="train"/>) timed under each variant, with the largest difference of the variant's sampling
    /// output from the first variant's, for the same inputs, as a check that the switches do not change results beyond
    /// rounding.
    /// </summary>
    public IReadOnlyList<AbResult> RunAb(Device device, int warmup, int runs, IReadOnlyList<string> variants, bool train, Action<string> log)
    {
        var dtype = ScalarType.BFloat16;
        log($"{Name}: building with random bf16 weights");
        var model = Build(device, dtype);
        model.eval();
        var inputs = Inputs(2, device, dtype);
        var results = new List<AbResult>();
        Tensor? baseline = null;
        foreach (var variant in variants)
            using (Toggles.Apply(Toggles.Parse(variant)))
            using (inference_mode())
            {
                log($"{Name}: sampling step with {Toggles.Describe()}");
                var output = Forward(model, inputs);
                double difference = 0;
                if (baseline is null) baseline = output.to(ScalarType.Float32);
                else
                {
                    using var diff = (output.to(ScalarType.Float32) - baseline).abs().max();
                    difference = diff.ToDouble();
                    output.Dispose();
                }
                var time = Measure.Time(device, () => Forward(model, inputs).Dispose(), warmup, runs);
                results.Add(new AbResult(Name, variant, Toggles.Describe(), time.Median, 0, difference));
            }
        using (var scale = baseline!.abs().max())
            log($"{Name}: largest |sampling output| of the first variant {scale.ToDouble():F3}");
        baseline.Dispose();
        if (train)
            using (var trainer = new LoraTrainer(this, model, device, dtype))
                for (int i = 0; i < variants.Count; i++)
                    using (Toggles.Apply(Toggles.Parse(variants[i])))
                    {
                        log($"{Name}: training step with {Toggles.Describe()}");
                        results[i] = results[i] with { TrainingStepMs = Measure.Time(device, trainer.Step, warmup, runs).Median };
                    }
        model.Dispose();
        return results;
    }

    /// <summary>
    /// A rank-4 LoRA (fp32 adapters, AdamW) on the paper's targets of a frozen model, and its training step as
    /// <see cref="MotionCustomizer"/> takes it: forward, MSE, backward, loss read back, then the production optimizer
    /// step (global gradient-norm clipping at 1, AdamW over the packed adapters).
    /// </summary>
    private sealed class LoraTrainer : IDisposable
    {
        private readonly BenchCase _case;
        private readonly nn.Module _model;
        private readonly LoraNetwork _lora;
        private readonly CustomizationOptimizer _optimizer;
        private readonly object _inputs;

        public LoraTrainer(BenchCase benchCase, nn.Module model, Device device, ScalarType dtype)
        {
            (_case, _model) = (benchCase, model);
            foreach (var p in model.parameters()) p.requires_grad_(false);
            _lora = LoraNetwork.Attach(model, LoraTargets.Preset(benchCase.Architecture, "temporal-qkvo"), new LoraSettings { Rank = 4, Alpha = 4 });
            model.eval(); // no dropout in the frozen model, as MotionCustomizer trains it
            _lora.BeginTraining();
            _optimizer = new CustomizationOptimizer(_lora, 0.9, 0.999, 1e-8, 1e-2);
            _inputs = benchCase.Inputs(1, device, dtype);
            _device = device;
        }

        /// <summary>
        /// The CPU's time in each phase of every step so far, ms (forward with the loss, backward, optimizer): with the
        /// GPU running behind, it tells which phase holds a launch-bound step up.
        /// </summary>
        public List<(double Forward, double Backward, double Optimizer)> HostPhases { get; } = [];

        private GraphedTrainingStep? _graphed;
        private readonly Device _device;

        /// <summary>The loss of one step: forward, MSE against fresh noise.</summary>
        private Tensor Loss()
        {
            using var scope = NewDisposeScope();
            var output = _case.Forward(_model, _inputs);
            var target = randn_like(output);
            return F.mse_loss(output.to(ScalarType.Float32), target.to(ScalarType.Float32)).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// The same step as a replayed CUDA graph (<see cref="GraphedTrainingStep"/>, the production path on CUDA): the
        /// first call runs one step and captures it, later calls replay and read the loss back.
        /// </summary>
        public void StepGraphed()
        {
            float loss;
            if (_graphed is null)
            {
                _graphed = GraphedTrainingStep.Capture(_device, _optimizer, Loss, 1.0, 1e-4, out var first);
                loss = first.Loss;
            }
            else (loss, _) = _graphed.Step(1e-4);
            if (!float.IsFinite(loss)) throw new InvalidOperationException($"{_case.Name}: the training loss is not finite.");
        }

        /// <summary>Forward, MSE loss against noise, backward, AdamW step.</summary>
        public void Step()
        {
            using var scope = NewDisposeScope();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            var output = _case.Forward(_model, _inputs);
            var target = randn_like(output);
            var loss = F.mse_loss(output.to(ScalarType.Float32), target.to(ScalarType.Float32));
            long forward = System.Diagnostics.Stopwatch.GetTimestamp();
            loss.backward();
            if (!float.IsFinite(loss.item<float>())) throw new InvalidOperationException($"{_case.Name}: the training loss is not finite.");
            long backward = System.Diagnostics.Stopwatch.GetTimestamp();
            _optimizer.Step(1e-4, 1.0);
            long end = System.Diagnostics.Stopwatch.GetTimestamp();
            static double Ms(long from, long to) => (to - from) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
            HostPhases.Add((Ms(start, forward), Ms(forward, backward), Ms(backward, end)));
        }

        /// <summary>Median host milliseconds per phase over the last <paramref name="steps"/> steps.</summary>
        public string DescribeHostPhases(int steps)
        {
            var last = HostPhases.TakeLast(steps).ToList();
            static double Median(IEnumerable<double> values)
            {
                var sorted = values.Order().ToArray();
                return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
            }
            return $"forward + loss {Median(last.Select(p => p.Forward)):F1} ms, backward (until the loss is read back) {Median(last.Select(p => p.Backward)):F1} ms, " +
                $"optimizer {Median(last.Select(p => p.Optimizer)):F1} ms (medians over {last.Count} steps)";
        }

        public void Dispose()
        {
            _graphed?.Dispose();
            _optimizer.AdamW.ReadStepsFromDevice();
            _lora.EndTraining();
            _optimizer.Dispose();
            _lora.Dispose(); // detaches the adapters
        }
    }

    private sealed record GraphTiming(Timing Time, double MaxDifference, string? Note);

    /// <summary>
    /// The CFG sampling step as the sampler runs it with CUDA graphs: each step copies its inputs into the captured
    /// tensors, replays, and copies the output out. Checked against the eager denoiser's output for the same inputs.
    /// </summary>
    private GraphTiming MeasureGraph(nn.Module model, object inputs, Device device, int warmup, int runs, Action<string> log)
    {
        using var _ = inference_mode();
        using var graphs = new CudaGraphDenoiser(Denoiser(model), model) { KeepSlowerGraphs = true };
        using var eager = Predict(graphs.Inner, inputs);
        using var first = Predict(graphs, inputs); // warm-up and capture
        if (graphs.Replays == 0)
            return new GraphTiming(new Timing([0]), 0, $"not captured: {CudaGraph.UnavailableReason ?? "capture refused (see the warning)"}");
        using var replayed = Predict(graphs, inputs);
        using var diff = (replayed.to(ScalarType.Float32) - eager.to(ScalarType.Float32)).abs().max();
        double difference = diff.ToDouble();
        var time = Measure.Time(device, () => Predict(graphs, inputs).Dispose(), warmup, runs);
        log($"{Name}: CUDA-graph sampling runs, ms [CPU enqueue ms]: {time.Describe()}; max |graph - eager| {difference:E2}");
        return new GraphTiming(time, difference, null);
    }

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
            log($"{Name}: sampling runs, ms [CPU enqueue ms] (GC collections/GC pause ms): {sampling.Describe()}");
            samplingPeak = Measure.PeakMemory(device, () => Forward(model, sampleInputs).Dispose());
        }
        var graph = Wants("graph") && device.type == DeviceType.CUDA ? MeasureGraph(model, sampleInputs, device, warmup, runs, log) : null;
        if (Wants("profile"))
            using (inference_mode()) Measure.ProfileSections(device, $"{Name}: profile of one CFG sampling step", () => Forward(model, sampleInputs).Dispose(), log);
        if (Wants("kernels-sample"))
            using (inference_mode())
            {
                Forward(model, sampleInputs).Dispose(); // warm (cuDNN picks its algorithms on first sight)
                ProfilerRange.Around(() => Forward(model, sampleInputs).Dispose());
            }

        // Training: rank-4 LoRA on the temporal (or 3D) attention projections, fp32 adapters, AdamW.
        log($"{Name}: timing a rank-4 LoRA training step");
        Timing training;
        MemoryPeak trainingPeak;
        Timing? graphTraining = null;
        MemoryPeak? graphTrainingPeak = null;
        using (var trainer = new LoraTrainer(this, model, device, dtype))
        {
            training = Wants("train") ? Measure.Time(device, trainer.Step, warmup, runs) : new Timing([0]);
            if (Wants("train"))
            {
                log($"{Name}: training runs, ms [CPU enqueue ms] (GC collections/GC pause ms): {training.Describe()}");
                log($"{Name}: CPU time of the training step by phase: {trainer.DescribeHostPhases(runs)}");
            }
            if (Wants("profile-train")) Measure.ProfileSections(device, $"{Name}: profile of one training step", trainer.Step, log);
            if (Wants("kernels-train")) { trainer.Step(); ProfilerRange.Around(trainer.Step); }
            trainingPeak = Wants("train") ? Measure.PeakMemory(device, trainer.Step) : new MemoryPeak(0, "");
            if (Wants("graph-train") && device.type == DeviceType.CUDA)
            {
                log($"{Name}: timing the training step as a CUDA graph");
                graphTrainingPeak = Measure.PeakMemory(device, trainer.StepGraphed); // warm-up step and capture
                graphTraining = Measure.Time(device, trainer.StepGraphed, warmup, runs);
                log($"{Name}: CUDA-graph training runs, ms [CPU enqueue ms]: {graphTraining.Describe()}");
            }
        }
        model.Dispose();
        var extras = Wants("extras") ? Extras(device, warmup, runs, log) : [];

        return new CaseResult
        {
            Model = Name, Shapes = Shapes, Parameters = parameters, SamplingStepFlops = flops,
            SamplingStepMs = sampling.Median, SamplingStepRuns = sampling.Milliseconds,
            SamplingGraphMs = graph?.Time.Median ?? 0, SamplingGraphRuns = graph?.Time.Milliseconds ?? [],
            SamplingGraphMaxDifference = graph?.MaxDifference ?? 0, SamplingGraphNote = graph?.Note,
            TrainingGraphMs = graphTraining?.Median ?? 0, TrainingGraphRuns = graphTraining?.Milliseconds ?? [],
            TrainingGraphPeakGiB = graphTrainingPeak?.GiB ?? 0,
            TrainingStepMs = training.Median, TrainingStepRuns = training.Milliseconds,
            TrainingPeakGiB = trainingPeak.GiB, SamplingPeakGiB = samplingPeak.GiB, MemoryMethod = trainingPeak.Method,
            Extra = extras,
        };
    }
}
