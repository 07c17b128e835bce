using System.Diagnostics;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Bench;

/// <summary>
/// Customization on full-size Latte-1 with random bf16 weights: training step time and peak memory for LoRA
/// (with and without gradient checkpointing) and the full-parameter variant, and the sampling step time of the base
/// model, a merged LoRA and a separate LoRA path.
/// Usage: <c>motiontune-bench customization [latte config.json (default: the Latte-1 preset)] [frames=16] [latent side=64] [steps=20]</c>.
/// </summary>
public static class CustomizationBench
{
    /// <summary>Runs the benchmark and prints one line per measurement.</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 0) args = [MotionTune.Presets.ModelPresets.PathOf(MotionTune.Presets.ModelPresets.Latte1Transformer)];
        TorchRuntime.Initialize();
        if (!TorchRuntime.CudaAvailable) { Console.Error.WriteLine("needs a CUDA device"); return 2; }
        var config = ConfigFile.Load<LatteTransformer3DConfig>(args[0]);
        int frames = args.Length > 1 ? int.Parse(args[1]) : 16, side = args.Length > 2 ? int.Parse(args[2]) : 64;
        int steps = args.Length > 3 ? int.Parse(args[3]) : 20;
        CudnnSettings.SetBenchmark(true);

        LatteTransformer3DModel model;
        using (ParameterFactory.Scope(CUDA, ScalarType.BFloat16))
            model = new LatteTransformer3DModel(config with { VideoLength = frames });
        var denoiser = new Denoiser(model);
        var scheduler = new DdimScheduler(new DdimSchedulerConfig { ClipSample = false, StepsOffset = 1 });
        var example = new TrainingExample(randn([1, config.InChannels!.Value, frames, side, side]),
            new TextCondition(randn([1, 120, config.CaptionChannels!.Value], ScalarType.BFloat16, CUDA)));
        Console.WriteLine($"Latte {config.NumLayers} layers, {frames} x {side * 8} x {side * 8} px, {GpuInfo.Devices().FirstOrDefault()?.Name ?? "unknown GPU"}");

        foreach (var (label, options) in new[]
                 {
                     ("LoRA r4 temporal-qkvo", new CustomizationOptions { Steps = steps, CheckpointEvery = 0 }),
                     ("LoRA r4 temporal-qkvo, checkpointing", new CustomizationOptions { Steps = steps, CheckpointEvery = 0, GradientCheckpointing = true }),
                     ("full temporal-qkvo, checkpointing", new CustomizationOptions { Steps = steps, CheckpointEvery = 0, Full = true, GradientCheckpointing = true }),
                 })
        {
            using var customization = options.CreateCustomization(model, Architecture.Latte);
            var trainer = new MotionCustomizer(denoiser, model, customization, scheduler, options);
            Sync();
            CudaMemory.ResetPeak();
            var result = trainer.Train(example);
            double perStep = result.Elapsed.TotalSeconds / steps;
            Console.WriteLine($"train {label}: {perStep * 1e3:F0} ms/step (incl. first), peak allocated " +
                $"{CudaMemory.AllocatedBytes(peak: true) / 1e9:F2} GB, 300 steps ≈ {perStep * 300 / 60:F1} min");
        }

        using var lora = new CustomizationOptions().CreateCustomization(model, Architecture.Latte);
        using (no_grad())
            foreach (var (_, t) in lora.TrainableTensors) t.normal_(0, 0.01);
        var sampler = new VideoSampler(denoiser, scheduler);
        var prompts = new SamplingPrompts(example.Condition, Negative: new TextCondition(zeros_like(example.Condition.HiddenStates)));
        var start = randn([1, config.InChannels!.Value, frames, side, side]).to(CUDA);
        foreach (var (label, tau, mode) in new[] { ("base", 1000, LoraMode.Merged), ("LoRA merged", 0, LoraMode.Merged), ("LoRA separate", 0, LoraMode.Separate) })
        {
            CustomizedSampling.Sample(sampler, lora, tau, start, 2, prompts, 7.5, mode).Dispose(); // warm-up
            Sync();
            var clock = Stopwatch.StartNew();
            CustomizedSampling.Sample(sampler, lora, tau, start, 10, prompts, 7.5, mode).Dispose();
            Sync();
            Console.WriteLine($"sample {label}: {clock.Elapsed.TotalMilliseconds / 10:F0} ms/step (guidance batch 2)");
        }
        return 0;
    }

    private static void Sync() => cuda.synchronize();

    private sealed class Denoiser(LatteTransformer3DModel model) : IVideoDenoiser
    {
        public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
        {
            using var scope = NewDisposeScope();
            var output = model.forward(latents.to(ScalarType.BFloat16), timesteps, condition.HiddenStates, condition.AttentionMask);
            return output.narrow(1, 0, latents.shape[1]).MoveToOuterDisposeScope();
        }
    }
}
