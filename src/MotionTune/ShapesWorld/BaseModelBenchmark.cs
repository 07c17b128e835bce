using System.Diagnostics;
using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Models.TextEncoders;
using MotionTune.Pipelines;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>Timings of one bundled model's passes, in milliseconds (the minimum over the repeats: the machine may be shared).</summary>
/// <param name="Architecture">The model.</param>
/// <param name="Parameters">Denoiser parameters.</param>
/// <param name="TextParameters">Text encoder parameters.</param>
/// <param name="ForwardGflops">Floating-point operations of one forward at batch 1 (matrix products, convolutions and attention), in billions.</param>
/// <param name="Forward">One denoiser forward at batch 1, no gradients.</param>
/// <param name="GuidedForward">One classifier-free-guidance forward (batch 2), no gradients: one sampling step.</param>
/// <param name="LoraStep">One customization training step at batch 1: forward, MSE, backward into rank-4 temporal LoRA adapters, AdamW.</param>
public sealed record BaseModelTimings(Architecture Architecture, long Parameters, long TextParameters, double ForwardGflops, double Forward, double GuidedForward, double LoraStep)
{
    /// <summary>
    /// Model time of a demo-sized run: <paramref name="trainingSteps"/> LoRA steps, then <paramref name="videos"/> videos of
    /// <paramref name="samplingSteps"/> guided steps, in seconds.
    /// </summary>
    public double DemoSeconds(int trainingSteps = 125, int videos = 3, int samplingSteps = 25) =>
        (trainingSteps * LoraStep + videos * samplingSteps * GuidedForward) / 1000;
}

/// <summary>
/// Times the bundled models' passes on a device with fresh weights (the weights do not change the cost): what decides
/// whether sampling and customization are quick enough on a CPU.
/// </summary>
public static class BaseModelBenchmark
{
    /// <summary>Times <paramref name="spec"/>'s denoiser on <paramref name="device"/> in float32, <paramref name="repeats"/> times each after a warm-up.</summary>
    public static BaseModelTimings Measure(BaseModelSpec spec, Device? device = null, int repeats = 5)
    {
        device ??= CPU;
        using var scope = NewDisposeScope();
        nn.Module denoiser;
        CLIPTextModel text;
        using (ParameterFactory.Scope(device, ScalarType.Float32))
        {
            denoiser = spec.CreateDenoiser();
            text = new CLIPTextModel(spec.TextConfig);
        }
        long Count(nn.Module m) => m.parameters().Sum(p => p.numel());
        long denoiserParameters = Count(denoiser), textParameters = Count(text);
        foreach (var p in denoiser.parameters()) p.requires_grad_(false);
        var model = BaseModelSpec.Wrap(denoiser);
        var d = spec.Defaults;
        var latents = randn([1, 3, d.Frames, d.Height, d.Width], device: device);
        var hidden = randn([1, spec.MaxLength, spec.TextConfig.HiddenSize], device: device);
        var mask = ones([1, spec.MaxLength], ScalarType.Int64, device);
        var condition = new TextCondition(hidden, spec.PromptRules.MaskToDenoiser ? mask : null);
        var timestep = full([1], 500L, ScalarType.Int64, device);

        double Time(Action action)
        {
            action();
            double best = double.PositiveInfinity;
            for (int i = 0; i < repeats; i++)
            {
                var watch = Stopwatch.StartNew();
                action();
                best = Math.Min(best, watch.Elapsed.TotalMilliseconds);
            }
            return best;
        }

        denoiser.eval();
        double forward, guided, gflops;
        using (no_grad())
        {
            forward = Time(() => { using var s = NewDisposeScope(); model.Predict(latents, timestep, condition); });
            gflops = FlopCounter.Measure(() => { using var s = NewDisposeScope(); model.Predict(latents, timestep, condition); }) / 1e9;
            var both = TextCondition.Concat(condition, condition);
            var pair = cat([latents, latents]);
            var pairTimesteps = full([2], 500L, ScalarType.Int64, device);
            guided = Time(() => { using var s = NewDisposeScope(); model.Predict(pair, pairTimesteps, both); });
        }

        using var lora = LoraNetwork.Attach(denoiser, LoraTargets.Preset(spec.Architecture, "temporal-qkvo"), new LoraSettings());
        var parameters = lora.Parameters().Cast<Tensor>().ToList();
        using var optimizer = new AdamW(parameters, weightDecay: 0);
        lora.BeginTraining();
        var target = randn_like(latents);
        double step = Time(() =>
        {
            using var s = NewDisposeScope();
            var loss = nn.functional.mse_loss(model.Predict(latents, timestep, condition), target);
            loss.backward();
            optimizer.Step(parameters.Select(p => (Tensor?)p.grad).ToList(), 1e-4);
            lora.ClearGradients();
        });
        lora.EndTraining();

        var result = new BaseModelTimings(spec.Architecture, denoiserParameters, textParameters, gflops, forward, guided, step);
        lora.Detach();
        denoiser.Dispose();
        text.Dispose();
        return result;
    }
}
