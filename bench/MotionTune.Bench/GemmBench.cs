using MotionTune.Runtime;
using Spectre.Console;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Bench;

/// <summary>
/// <c>motiontune-bench gemm</c>: the bf16 rate of the projections the denoisers run (F.linear on their real shapes,
/// with and without bias, and as a plain matmul against a pre-transposed weight), to tell slow layers from slow GEMMs.
/// </summary>
public static class GemmBench
{
    /// <summary>Runs the table.</summary>
    public static int Run(string[] args)
    {
        TorchRuntime.Initialize();
        var device = TorchRuntime.ParseDevice("auto");
        var shapes = new (string Name, long M, long K, long N)[]
        {
            ("Latte qkv (fused)", 32768, 1152, 3456), ("Latte out/q", 32768, 1152, 1152), ("Latte ff up", 32768, 1152, 4608),
            ("Latte ff down", 32768, 4608, 1152), ("CogVideoX qkv (fused)", 9452, 1920, 5760), ("CogVideoX ff up", 9452, 1920, 7680),
            ("CogVideoX ff down", 9452, 7680, 1920), ("ModelScope 32x32 qkv", 32768, 320, 960), ("square 8192", 8192, 8192, 8192),
        };
        var table = new Table().AddColumns("shape", "M x K x N", "linear+bias", "TFLOP/s", "linear", "TFLOP/s", "mm (W^T contiguous)", "TFLOP/s",
            "+bias, 3-D input", "+bias, 4-D input", "+bias, strided 3-D input");
        foreach (var (name, m, k, n) in shapes)
        {
            using var scope = NewDisposeScope();
            var x = randn([m, k], ScalarType.BFloat16, device);
            var w = randn([n, k], ScalarType.BFloat16, device) * 0.02;
            var b = randn([n], ScalarType.BFloat16, device);
            var wt = w.t().contiguous();
            double flops = 2.0 * m * n * k;
            var withBias = Measure.Time(device, () => F.linear(x, w, b).Dispose(), 3, 20).Median;
            var noBias = Measure.Time(device, () => F.linear(x, w).Dispose(), 3, 20).Median;
            var mm = Measure.Time(device, () => x.mm(wt).Dispose(), 3, 20).Median;
            // The layouts the models hand to F.linear: (tokens-major) 3-D, 4-D, and a transposed (non-contiguous) 3-D view.
            string Layout(Func<Tensor> view)
            {
                if (m % 32 != 0) return "-";
                var input = view();
                return $"{Measure.Time(device, () => F.linear(input, w, b).Dispose(), 3, 20).Median:F3} ms";
            }
            var threeD = Layout(() => x.view(m / 16, 16, k));
            var fourD = Layout(() => x.view(2, m / 32, 16, k));
            var stridedTime = Layout(() => x.view(16, m / 16, k).transpose(0, 1));
            string Rate(double ms) => $"{flops / (ms * 1e-3) / 1e12:F0}";
            table.AddRow(name, $"{m} x {k} x {n}", $"{withBias:F3} ms", Rate(withBias), $"{noBias:F3} ms", Rate(noBias), $"{mm:F3} ms", Rate(mm),
                threeD, fourD, stridedTime);
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
