using System.Diagnostics;
using MotionTune.Bench.Cases;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Bench;

/// <summary>
/// The CPU's share of a sampling step, without a GPU: each model's CFG forward (batch 2) on the meta device, where
/// every operation is dispatched and shaped but nothing is computed or launched. What remains is the cost of our code,
/// TorchSharp's interop and libtorch's dispatcher: a floor under a launch-bound step (a CUDA step adds the kernel
/// launches themselves). Usage: <c>motiontune-bench overhead [--models modelscope,latte,cogvideox] [--runs 20]</c>.
/// </summary>
public static class OverheadBench
{
    /// <summary>Runs the measurement.</summary>
    public static int Run(string[] args, IReadOnlyDictionary<string, Func<BenchCase>> cases)
    {
        string[] models = ["modelscope", "latte", "cogvideox"];
        int runs = 20;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--models": models = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--runs": runs = BenchArgs.Positive("--runs", Value()); break;
                default: throw new ArgumentException($"overhead: unknown option {args[i]}.");
            }
        }
        TorchRuntime.Initialize();
        foreach (var name in models)
        {
            if (!cases.TryGetValue(name, out var make)) throw new ArgumentException($"--models: unknown model '{name}' (known: {string.Join(", ", cases.Keys)}).");
            var benchCase = make();
            using var scope = NewDisposeScope();
            var model = benchCase.Build(META, ScalarType.BFloat16);
            model.eval();
            var inputs = benchCase.Inputs(2, META, ScalarType.BFloat16);
            using (inference_mode())
            {
                for (int i = 0; i < 3; i++) { using var s = NewDisposeScope(); benchCase.Forward(model, inputs); }
                var times = new double[runs];
                for (int i = 0; i < runs; i++)
                {
                    using var s = NewDisposeScope();
                    var watch = Stopwatch.StartNew();
                    benchCase.Forward(model, inputs);
                    times[i] = watch.Elapsed.TotalMilliseconds;
                }
                Console.WriteLine($"{benchCase.Name}: CFG forward on the meta device {new Timing(times).Median:F1} ms (median of {runs}; CPU only)");
            }
            model.Dispose();
        }
        return 0;
    }
}
