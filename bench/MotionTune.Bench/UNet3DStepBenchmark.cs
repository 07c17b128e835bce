using System.Diagnostics;
using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Models.Unets;
using MotionTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Bench;

/// <summary>
/// ModelScope UNet3D steps as issue 11 times them, with random weights: a CFG sampling step (batch 2, no grad) and a
/// rank-4 temporal-LoRA training step (batch 1: forward, MSE to a noise target, backward, AdamW step on the adapters),
/// median of the timed runs after warm-up, CUDA-synchronised, plus the training step's peak allocated memory.
/// </summary>
public static class UNet3DStepBenchmark
{
    /// <summary>What was measured.</summary>
    /// <param name="SamplingStepMs">Median CFG sampling step (batch 2).</param>
    /// <param name="TrainingStepMs">Median LoRA training step (batch 1).</param>
    /// <param name="TrainingPeakBytes">Peak allocated bytes during training steps (null where statistics are unavailable).</param>
    /// <param name="ForwardFlops">Analytic FLOPs of one batch-2 forward.</param>
    public sealed record Result(double SamplingStepMs, double TrainingStepMs, long? TrainingPeakBytes, long ForwardFlops);

    /// <summary>
    /// Runs both steps on <paramref name="device"/> in <paramref name="dtype"/> for latents of
    /// <paramref name="frames"/> x <paramref name="latentSize"/>² (16 x 32² is 16 frames of 256² pixels).
    /// <paramref name="config"/> defaults to the ModelScope 1.7B UNet (diffusers' defaults).
    /// </summary>
    public static Result Run(Device device, ScalarType dtype, UNet3DConditionConfig? config = null, int frames = 16, int latentSize = 32,
        int textTokens = 77, int warmup = 3, int iterations = 10, bool gradientCheckpointing = false)
    {
        config ??= new UNet3DConditionConfig { SampleSize = 32 };
        long flops;
        using (ParameterFactory.Scope(META))
        {
            var meta = new UNet3DConditionModel(config);
            flops = FlopCounter.Measure(() => meta.forward(empty([2, config.InChannels, frames, latentSize, latentSize], device: META),
                500.0, empty([2, textTokens, config.CrossAttentionDim], device: META)));
        }

        manual_seed(0);
        UNet3DConditionModel model;
        using (ParameterFactory.Scope(device, dtype)) model = new UNet3DConditionModel(config);
        model.eval();

        // 1. CFG sampling step: batch 2 (unconditional + conditional), no gradients.
        double sampling;
        using (no_grad())
        {
            var latents = randn([2, config.InChannels, frames, latentSize, latentSize], dtype, device);
            var text = randn([2, textTokens, config.CrossAttentionDim], dtype, device);
            var t = tensor(new[] { 500L, 500L }, device: device);
            sampling = Median(device, warmup, iterations, () => model.forward(latents, t, text).Dispose());
        }

        // 2. Temporal-LoRA training step: batch 1, frozen base, rank 4 on the temporal attention's q, k, v, out.
        foreach (var p in model.parameters()) p.requires_grad_(false);
        model.train();
        model.GradientCheckpointing = gradientCheckpointing;
        using var lora = LoraNetwork.Attach(model, LoraTargets.Preset(Architecture.ModelScope, "temporal-qkvo"), new LoraSettings { Rank = 4, Alpha = 4 });
        var optimizer = optim.AdamW(lora.Parameters(), lr: 1e-4);
        var x = randn([1, config.InChannels, frames, latentSize, latentSize], dtype, device);
        var noise = randn_like(x);
        var prompt = randn([1, textTokens, config.CrossAttentionDim], dtype, device);
        var step = tensor(new[] { 700L }, device: device);
        void TrainingStep()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var prediction = model.forward(x, step, prompt);
            var loss = nn.functional.mse_loss(prediction.to(ScalarType.Float32), noise.to(ScalarType.Float32));
            loss.backward();
            optimizer.step();
        }
        bool stats = device.type == DeviceType.CUDA && CudaMemory.Available;
        if (stats) CudaMemory.ResetPeak(device.index < 0 ? 0 : device.index);
        double training = Median(device, warmup, iterations, TrainingStep);
        long? peak = stats ? CudaMemory.AllocatedBytes(device.index < 0 ? 0 : device.index, peak: true) : null;
        return new Result(sampling, training, peak, flops);
    }

    private static double Median(Device device, int warmup, int iterations, Action step)
    {
        for (int i = 0; i < warmup; i++) step();
        var times = new List<double>();
        for (int i = 0; i < iterations; i++)
        {
            Synchronize(device);
            var watch = Stopwatch.StartNew();
            step();
            Synchronize(device);
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
