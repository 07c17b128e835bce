using MotionTune.Models.Layers;
using MotionTune.Runtime;
using MotionTune.Runtime.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Bench;

/// <summary>
/// <c>motiontune-bench verify-kernels [--runs 20]</c>: checks every GPU-only fast path against the TorchSharp ops it
/// replaces, on random CUDA tensors of the benchmark models' real shapes, in bf16, fp16 and fp32: the fused kernels
/// (<see cref="FusedKernels"/>), the fused QKV projection and the temporal convolution as conv2d. Both paths are
/// compared with a float64 computation of the same op; a path passes when its error is at most twice the unfused
/// path's plus a small dtype slack (the fused kernels round once, the unfused ops after each op, so they are usually the
/// more accurate). Prints errors and median times of both paths; exits 1 when anything fails or throws.
/// </summary>
public static class VerifyKernels
{
    private sealed record Case(string Op, string Shape, ScalarType DType, Func<Tensor?> Fast, Func<Tensor> Unfused, Func<Tensor> Reference);

    /// <summary>Runs the checks.</summary>
    public static int Run(string[] args)
    {
        int runs = args is ["--runs", var n, ..] ? int.Parse(n) : 20;
        TorchRuntime.Initialize();
        if (!TorchRuntime.CudaAvailable) { Console.Error.WriteLine("verify-kernels needs a CUDA device (set MOTIONTUNE_LIBTORCH to a CUDA PyTorch's torch/lib)."); return 2; }
        var device = CUDA;
        CudnnSettings.SetBenchmark(true);
        Console.WriteLine($"device: {GpuInfo.Devices().FirstOrDefault()?.Name ?? "?"}, libtorch {TorchRuntime.LibTorchVersion}");
        try { Console.WriteLine($"kernels: {FusedKernels.Prepare(0)}"); }
        catch (Exception e) { Console.WriteLine($"FAIL: the kernels do not compile or load:\n{e.Message}"); return 1; }

        int failures = 0;
        Console.WriteLine($"{"op",-22} {"shape",-40} {"dtype",-9} {"fast err",10} {"unfused err",12} {"max |ref|",10} {"fast ms",9} {"unfused ms",11} {"speed-up",9}  result");
        using (inference_mode())
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16, ScalarType.Float32 })
                foreach (var c in Cases(dtype, device))
                {
                    try { failures += Check(c, device, runs) ? 0 : 1; }
                    catch (Exception e)
                    {
                        failures++;
                        Console.WriteLine($"{c.Op,-22} {c.Shape,-40} {c.DType,-9} FAIL: {e.GetType().Name}: {e.Message}");
                    }
                }
        Console.WriteLine(failures == 0 ? "verify-kernels: all passed" : $"verify-kernels: {failures} FAILED");
        return failures == 0 ? 0 : 1;
    }

    private static bool Check(Case c, Device device, int runs)
    {
        using var scope = NewDisposeScope();
        var fast = c.Fast() ?? throw new InvalidOperationException("the fast path declined these inputs (it should take them)");
        var unfused = c.Unfused();
        var reference = c.Reference();
        if (!fast.shape.SequenceEqual(reference.shape)) throw new InvalidOperationException($"fast path shape [{string.Join(", ", fast.shape)}]");
        double fastError = MaxAbs(fast.to(ScalarType.Float64) - reference);
        double unfusedError = MaxAbs(unfused.to(ScalarType.Float64) - reference);
        double scale = MaxAbs(reference);
        double slack = c.DType switch { ScalarType.Float32 => 1e-6, ScalarType.Float16 => 1e-3, _ => 8e-3 } * scale;
        bool pass = fastError <= 2 * unfusedError + slack; // false for NaN
        var fastTime = Measure.Time(device, () => c.Fast()!.Dispose(), 3, runs).Median;
        var unfusedTime = Measure.Time(device, () => c.Unfused().Dispose(), 3, runs).Median;
        Console.WriteLine($"{c.Op,-22} {c.Shape,-40} {c.DType,-9} {fastError,10:E2} {unfusedError,12:E2} {scale,10:F2} {fastTime,9:F3} {unfusedTime,11:F3} {unfusedTime / fastTime,8:F2}x  {(pass ? "ok" : "FAIL")}");
        return pass;
    }

    private static double MaxAbs(Tensor t)
    {
        using var m = t.abs().max();
        return m.ToDouble();
    }

    private static Tensor Randn(long[] shape, ScalarType dtype, Device device, double std = 1, double mean = 0) =>
        (randn(shape, ScalarType.Float32, device) * std + mean).to(dtype);

    private static Tensor F64(Tensor? t) => t!.to(ScalarType.Float64);

    private static IEnumerable<Case> Cases(ScalarType dtype, Device device)
    {
        string dt = dtype.ToString();

        // (a) per-head LayerNorm: CogVideoX's q/k norms (B, S, heads, 64), strided in a fused qkv output or contiguous.
        foreach (var (shape, strided) in new[] { ((2L, 4726L, 30L, 64L), true), ((2L, 4726L, 30L, 64L), false), ((2L, 1024L, 16L, 128L), false), ((2L, 512L, 8L, 32L), true) })
        {
            var (b, s, h, d) = shape;
            var qkv = Randn([b, s, 3 * h * d], dtype, device, 1.5, 0.2);
            var x = strided ? qkv.narrow(2, h * d, h * d).view(b, s, h, d) : qkv.narrow(2, 0, h * d).contiguous().view(b, s, h, d);
            var w = Randn([d], dtype, device, 0.5, 1);
            var bias = Randn([d], dtype, device, 0.2);
            yield return new Case("layernorm_per_head", $"({b}, {s}, {h}, {d}){(strided ? " in fused qkv" : "")}", dtype,
                () => FusedKernels.LayerNormPerHead(x, w, bias, 1e-6),
                () => FusedReference.LayerNormPerHead(x, w, bias, 1e-6),
                () => FusedReference.LayerNormPerHead(F64(x), F64(w), F64(bias), 1e-6));
        }

        // (b) LayerNorm + adaLN modulation: Latte (no affine, eps 1e-6, (S, 6, D) table rows), CogVideoX (affine, chunks of
        // a (B, 1, 6·D) projection), and an odd width (scalar path).
        foreach (var (samples, rows, d, affine, eps) in new[] { (2L, 16384L, 1152L, false, 1e-6), (2L, 4500L, 1920L, true, 1e-5), (2L, 226L, 1920L, true, 1e-5), (3L, 100L, 999L, true, 1e-5) })
        {
            var x = Randn([samples, rows, d], dtype, device, 2, 0.3);
            var mod = Randn([samples, 1, 6 * d], dtype, device, 0.5).chunk(6, 2);
            var (shift, scale) = (mod[0], mod[1]);
            Tensor? w = affine ? Randn([d], dtype, device, 0.5, 1) : null, bias = affine ? Randn([d], dtype, device, 0.2) : null;
            yield return new Case("layernorm_modulate", $"({samples}, {rows}, {d}){(affine ? " affine" : "")}", dtype,
                () => FusedKernels.LayerNormModulate(x, w, bias, eps, scale, shift),
                () => FusedReference.LayerNormModulate(x, w, bias, eps, scale, shift),
                () => FusedReference.LayerNormModulate(F64(x), w is null ? null : F64(w), bias is null ? null : F64(bias), eps, F64(scale), F64(shift)));
        }

        // (c) GroupNorm + SiLU: ModelScope's resnets (B·F frames), temporal convs (permuted frames and contiguous), the VAE,
        // and an odd shape (scalar path); GroupNorm alone: the UNet's transformer input norms (temporal: permuted frames);
        // and the channels-last layouts of the UNet at inference.
        var groupCases = new (string Name, Func<Tensor> Make, double Eps, bool Silu)[]
        {
            ("(32, 320, 32, 32)", () => Randn([32, 320, 32, 32], dtype, device, 1.3, 0.5), 1e-5, true),
            ("(32, 1280, 4, 4)", () => Randn([32, 1280, 4, 4], dtype, device, 1.3, 0.5), 1e-5, true),
            ("(2, 320, 16, 32, 32) permuted frames", () => Randn([2, 16, 320, 32, 32], dtype, device, 1.3, 0.5).permute(0, 2, 1, 3, 4), 1e-5, true),
            ("(2, 1280, 16, 8, 8) permuted frames", () => Randn([2, 16, 1280, 8, 8], dtype, device, 1.3, 0.5).permute(0, 2, 1, 3, 4), 1e-5, true),
            ("(2, 320, 16, 32, 32)", () => Randn([2, 320, 16, 32, 32], dtype, device, 1.3, 0.5), 1e-5, true),
            ("(1, 512, 64, 64)", () => Randn([1, 512, 64, 64], dtype, device, 1.3, 0.5), 1e-6, true),
            ("(3, 96, 7, 9)", () => Randn([3, 96, 7, 9], dtype, device, 1.3, 0.5), 1e-5, true),
            ("(2, 320, 16, 32, 32) permuted frames", () => Randn([2, 16, 320, 32, 32], dtype, device, 1.3, 0.5).permute(0, 2, 1, 3, 4), 1e-6, false),
            ("(32, 640, 16, 16)", () => Randn([32, 640, 16, 16], dtype, device, 1.3, 0.5), 1e-6, false),
            // Channels-last (the UNet at inference): resnet frames, the temporal layers' view of them, a transformer norm.
            ("(32, 320, 32, 32) channels-last", () => ChannelsLast.Copy(Randn([32, 320, 32, 32], dtype, device, 1.3, 0.5)), 1e-5, true),
            ("(2, 1280, 16, 8, 8) channels-last frames", () => ChannelsLast.Copy(Randn([32, 1280, 8, 8], dtype, device, 1.3, 0.5))
                .view(2, 16, 1280, 8, 8).permute(0, 2, 1, 3, 4), 1e-5, true),
            ("(32, 640, 16, 16) channels-last", () => ChannelsLast.Copy(Randn([32, 640, 16, 16], dtype, device, 1.3, 0.5)), 1e-6, false),
        };
        foreach (var (name, make, eps, silu) in groupCases)
        {
            var x = make();
            long channels = x.shape[1];
            var w = Randn([channels], dtype, device, 0.5, 1);
            var bias = Randn([channels], dtype, device, 0.2);
            Tensor Unfused(Tensor input, Tensor? weight, Tensor? b) => silu
                ? FusedReference.GroupNormSiLU(input, 32, weight, b, eps)
                : FusedReference.GroupNorm(input, 32, weight, b, eps);
            yield return new Case(silu ? "groupnorm_silu" : "groupnorm", name, dtype,
                () => FusedKernels.GroupNorm(x, 32, w, bias, eps, silu),
                () => Unfused(x, w, bias),
                () => Unfused(F64(x), F64(w), F64(bias)));
        }

        // Fused QKV projection (CogVideoX-2b attention: dim 1920, 30 heads of 64, bias) against three projections.
        {
            Attention attention;
            using (ParameterFactory.Scope(device, dtype)) attention = new Attention(1920, new AttentionOptions { Heads = 30, DimHead = 64, Bias = true });
            var x = Randn([2, 4726, 1920], dtype, device);
            Tensor Project(bool fused)
            {
                var previous = Attention.FuseQkvProjections;
                Attention.FuseQkvProjections = fused;
                try
                {
                    var (q, k, v) = attention.ProjectQkv(x);
                    return cat([q, k, v], -1);
                }
                finally { Attention.FuseQkvProjections = previous; }
            }
            yield return new Case("fused_qkv_projection", "(2, 4726, 1920) -> 3 x 1920", dtype,
                () => Project(fused: true), () => Project(fused: false),
                () => cat([F.linear(F64(x), F64(attention.to_q.weight), F64(attention.to_q.bias)),
                           F.linear(F64(x), F64(attention.to_k.weight), F64(attention.to_k.bias)),
                           F.linear(F64(x), F64(attention.to_v.weight), F64(attention.to_v.bias))], -1));
        }

        // Temporal convolution (ModelScope's (3, 1, 1) kernels) as conv2d against conv3d.
        {
            Conv3d conv;
            using (ParameterFactory.Scope(device, dtype)) conv = new Conv3d(320, 320, (3, 1, 1), (1, 1, 1), (1, 0, 0));
            var x = Randn([2, 320, 16, 32, 32], dtype, device);
            yield return new Case("temporal_conv_as_2d", "(2, 320, 16, 32, 32) k(3,1,1)", dtype,
                () => Conv3d.TemporalAsConv2d(x, conv.weight, conv.bias, 1),
                () => F.conv3d(x, conv.weight, conv.bias, [1, 1, 1], [1, 0, 0]),
                () => F.conv3d(F64(x), F64(conv.weight), F64(conv.bias), [1, 1, 1], [1, 0, 0]));
        }
    }
}
