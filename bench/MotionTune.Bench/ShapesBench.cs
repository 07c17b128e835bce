using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Bench;

/// <summary>
/// The bundled ShapesWorld base models' training step at the batch `motiontune shapes train` uses: what decides how many
/// steps fit in a training budget. Random bf16 weights, every parameter trained (as base training does), pixel-space
/// inputs of the bundled size. Prints the forward and training-step times (with the CPU's queueing time per run), the
/// step's TFLOP/s (3 x the forward's counted FLOPs) and a section profile of one training step's forward.
/// Usage: <c>motiontune-bench shapes [--arch modelscope,latte,cogvideox] [--batch 128] [--runs 10] [--warmup 3] [--toggle name=0,...]</c>.
/// </summary>
public static class ShapesBench
{
    /// <summary>Runs the benchmark.</summary>
    public static int Run(string[] args)
    {
        string[] architectures = ["modelscope", "latte", "cogvideox"];
        int batch = 128, runs = 10, warmup = 3;
        string? toggle = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--arch": architectures = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--batch": batch = BenchArgs.Positive("--batch", Value()); break;
                case "--runs": runs = BenchArgs.Positive("--runs", Value()); break;
                case "--warmup": warmup = BenchArgs.NonNegative("--warmup", Value()); break;
                case "--toggle": toggle = Value(); break;
                default: throw new ArgumentException($"shapes: unknown option {args[i]}.");
            }
        }
        TorchRuntime.Initialize();
        var device = TorchRuntime.CudaAvailable ? CUDA : CPU;
        if (device.type == DeviceType.CUDA) CudnnSettings.SetBenchmark(true);
        using var switches = Toggles.Apply(toggle is null ? [] : Toggles.Parse(toggle));
        Console.WriteLine($"ShapesWorld base-model training step, batch {batch}, bf16, on {device}; switches: {Toggles.Describe()}");
        foreach (var name in architectures) RunOne(BaseModels.Spec(BaseModels.Parse(name)), device, batch, runs, warmup);
        return 0;
    }

    private static void RunOne(BaseModelSpec spec, Device device, int batch, int runs, int warmup)
    {
        using var scope = NewDisposeScope();
        var dtype = ScalarType.BFloat16;
        nn.Module denoiser;
        using (ParameterFactory.Scope(device, dtype)) denoiser = spec.CreateDenoiser();
        denoiser.train();
        var parameters = denoiser.parameters().ToList();
        var model = BaseModelSpec.Wrap(denoiser);
        var d = spec.Defaults;
        var x = randn([batch, 3, d.Frames, d.Height, d.Width], dtype, device);
        var hidden = randn([batch, spec.MaxLength, spec.TextConfig.HiddenSize], dtype, device);
        var mask = spec.PromptRules.MaskToDenoiser ? ones([batch, spec.MaxLength], ScalarType.Int64, device) : null;
        var condition = new TextCondition(hidden, mask);
        var t = randint(0, 1000, [batch], ScalarType.Int64, device);

        long flops;
        using (no_grad()) flops = FlopCounter.Measure(() => { using var s = NewDisposeScope(); model.Predict(x, t, condition); });
        var forward = Measure.Time(device, () => { using var s = NewDisposeScope(); using var g = no_grad(); model.Predict(x, t, condition); }, warmup, runs);
        void Step()
        {
            using var s = NewDisposeScope();
            foreach (var p in parameters) p.grad = null;
            var prediction = model.Predict(x, t, condition);
            var loss = F.mse_loss(prediction.to(ScalarType.Float32), x.to(ScalarType.Float32));
            loss.backward();
        }
        var training = Measure.Time(device, Step, warmup, runs);
        string name = BaseModels.Name(spec.Architecture);
        Console.WriteLine($"{name}: {parameters.Sum(p => p.numel()):N0} parameters, {flops / 1e9:F1} GFLOP per forward at batch {batch}");
        Console.WriteLine($"{name}: forward (no grad) {forward.Median:F1} ms: {forward.Describe()}");
        Console.WriteLine($"{name}: training step {training.Median:F1} ms ({3.0 * flops / (training.Median * 1e-3) / 1e12:F1} TFLOP/s), " +
            $"{1000 / training.Median:F2} steps/s: {training.Describe()}");

        Measure.ProfileSections(device, $"{name}: profile of one training step (sections are the forward's)", Step, Console.WriteLine);
        denoiser.Dispose();
    }
}
