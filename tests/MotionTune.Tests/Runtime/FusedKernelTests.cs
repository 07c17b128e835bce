using System.Diagnostics;
using System.Text.RegularExpressions;
using MotionTune.Models.Layers;
using MotionTune.Runtime;
using MotionTune.Runtime.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Runtime;

/// <summary>
/// The fused kernels without a GPU: their CPU fallback is exactly the unfused ops, the layouts they are launched with
/// are read correctly from strided views, and the CUDA source itself computes the ops (run in a CPU emulation of CUDA,
/// <c>KernelEmulation/</c>). The GPU check is <c>motiontune-bench verify-kernels</c>.
/// </summary>
public sealed class FusedKernelTests(ITestOutputHelper output)
{
    [Fact]
    public void OnTheCpuTheFusedOpsAreExactlyTheUnfusedOps()
    {
        TorchRuntime.Initialize();
        var g = new TorchSharp.torch.Generator(7);
        var x = randn([2, 6, 3, 4], generator: g);
        var w = randn([4], generator: g);
        var b = randn([4], generator: g);
        Assert.True(FusedOps.LayerNormPerHead(x, w, b, 1e-6).SameAs(F.layer_norm(x, [4], w, b, 1e-6)));

        var tokens = randn([2, 5, 8], generator: g);
        var mod = randn([2, 6, 8], generator: g).chunk(6, 1);
        var expected = mod[0].addcmul(F.layer_norm(tokens, [8], null, null, 1e-6), 1 + mod[1], 1);
        Assert.True(FusedOps.LayerNormModulate(tokens, null, null, 1e-6, mod[1], mod[0]).SameAs(expected));

        var frames = randn([2, 3, 8, 4, 4], generator: g).permute(0, 2, 1, 3, 4);
        var gw = randn([8], generator: g);
        var gb = randn([8], generator: g);
        Assert.True(FusedOps.GroupNormSiLU(frames, 4, gw, gb, 1e-5).SameAs(F.silu(F.group_norm(frames, 4, gw, gb, 1e-5))));
        Assert.True(FusedOps.GroupNorm(frames, 4, gw, gb, 1e-6).SameAs(F.group_norm(frames, 4, gw, gb, 1e-6)));
    }

    [Fact]
    public void PerHeadRowsOfAFusedProjectionAreAddressedInPlace()
    {
        TorchRuntime.Initialize();
        const long b = 2, s = 5, heads = 3, d = 64;
        var qkv = zeros(b, s, 3 * heads * d);
        var k = qkv.narrow(2, heads * d, heads * d).view(b, s, heads, d);
        Assert.Equal(new FusedKernels.HeadRows(heads, 3 * heads * d, d), FusedKernels.RowLayout(k));
        Assert.Equal(new FusedKernels.HeadRows(heads, heads * d, d), FusedKernels.RowLayout(zeros(b, s, heads, d)));
        // (B, heads, S, d) views step over three dimensions of different strides: no (token, head) addressing.
        Assert.Null(FusedKernels.RowLayout(k.transpose(1, 2)));
        Assert.Equal(new FusedKernels.HeadRows(1, 0, 0), FusedKernels.RowLayout(zeros(1, d)));
    }

    [Fact]
    public void ChannelsLastLayoutsAreRecognised()
    {
        TorchRuntime.Initialize();
        var frames = ChannelsLast.Copy(randn(4, 8, 3, 5));
        Assert.True(ChannelsLast.Is(frames));
        Assert.True(frames.SameAs(frames.contiguous()));
        Assert.Null(FusedKernels.GroupNormLayout.Of(frames)); // the NCHW path does not take it...
        Assert.Equal(new FusedKernels.ChannelsLastLayout(15, 120, 8), FusedKernels.ChannelsLastLayout.Of(frames)); // ...this one does
        // The temporal layers' (B, C, F, H, W) view of channels-last frames: F·H·W positions, one run of stride C.
        var videos = frames.view(2, 2, 8, 3, 5).permute(0, 2, 1, 3, 4);
        Assert.Equal(new FusedKernels.ChannelsLastLayout(30, 240, 8), FusedKernels.ChannelsLastLayout.Of(videos));
        Assert.Null(FusedKernels.ChannelsLastLayout.Of(randn(4, 8, 3, 5)));
        Assert.Null(FusedKernels.ChannelsLastLayout.Of(frames[.., .., .., 1..])); // two runs
        Assert.Equal([60L, 1, 20, 4], ChannelsLast.Strides([2, 4, 3, 5]));

        // Re-laying a weight out keeps its values and its storage.
        var weight = randn(6, 4, 3, 3);
        var before = weight.clone();
        var address = KernelModule.Pointer(weight);
        ChannelsLast.Relayout(weight);
        Assert.True(ChannelsLast.Is(weight));
        Assert.Equal(address, KernelModule.Pointer(weight));
        Assert.True(weight.SameAs(before));

        // A weight that is a slice of a larger buffer keeps its place in it.
        var buffer = randn(2 * 6 * 4 * 3 * 3);
        var slice = buffer.narrow(0, 6 * 4 * 3 * 3, 6 * 4 * 3 * 3).view(6, 4, 3, 3);
        var sliceBefore = slice.clone();
        var first = buffer.narrow(0, 0, 6 * 4 * 3 * 3).clone();
        var sliceAddress = KernelModule.Pointer(slice);
        ChannelsLast.Relayout(slice);
        Assert.Equal(sliceAddress, KernelModule.Pointer(slice));
        Assert.True(slice.SameAs(sliceBefore));
        Assert.True(buffer.narrow(0, 0, 6 * 4 * 3 * 3).SameAs(first));
    }

    [Fact]
    public void GroupNormLayoutsCoverFramesInBothOrders()
    {
        TorchRuntime.Initialize();
        // Resnet input (N, C, H, W): one unit-stride run of H·W per channel.
        Assert.Equal(new FusedKernels.GroupNormLayout(1, 64, 8 * 64, 64, 0), FusedKernels.GroupNormLayout.Of(zeros(3, 8, 8, 8)));
        // Frames (B, F, C, H, W) permuted to (B, C, F, H, W): F runs of H·W, C·H·W apart.
        var permuted = zeros([2, 5, 8, 4, 4]).permute(0, 2, 1, 3, 4);
        Assert.Equal(new FusedKernels.GroupNormLayout(5, 16, 5 * 8 * 16, 16, 8 * 16), FusedKernels.GroupNormLayout.Of(permuted));
        Assert.True(FusedKernels.GroupNormLayout.Of(permuted)!.Value.AllowsVec4);
        // Contiguous (B, C, F, H, W): one run of F·H·W.
        Assert.Equal(new FusedKernels.GroupNormLayout(1, 80, 8 * 80, 80, 0), FusedKernels.GroupNormLayout.Of(zeros([2, 8, 5, 4, 4])));
        // (N, C) alone, and a batch of one (its stride does not matter).
        Assert.Equal(new FusedKernels.GroupNormLayout(1, 1, 6, 1, 0), FusedKernels.GroupNormLayout.Of(zeros(4, 6)));
        Assert.Equal(0, FusedKernels.GroupNormLayout.Of(zeros(1, 8, 3, 3))!.Value.StrideN);
        // Transposed H and W, or tokens (B, N, C) seen as (B, C, N): the inner run is not unit-stride, so the kernel needs a copy first.
        Assert.Null(FusedKernels.GroupNormLayout.Of(zeros(2, 8, 4, 6).transpose(2, 3)));
        Assert.Null(FusedKernels.GroupNormLayout.Of(zeros(2, 16, 8).transpose(1, 2)));
        Assert.False(FusedKernels.GroupNormLayout.Of(zeros(2, 8, 3, 3))!.Value.AllowsVec4);
    }

    [Fact]
    public void EveryEntryPointIsInstantiatedForEveryDType()
    {
        var declared = Regex.Matches(KernelSource.Code, @"extern ""C"" __global__ void (\w+)_##NAME\(").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(KernelSource.Kernels.Order(), declared.Order());
        foreach (var (suffix, type) in new[] { ("f32", "float"), ("bf16", "bf16"), ("f16", "f16") })
            Assert.Contains($"ENTRIES({suffix}, {type})", KernelSource.Code);
        Assert.Equal("groupnorm_finalize_bf16", KernelSource.EntryName("groupnorm_finalize", ScalarType.BFloat16));
        Assert.Throws<ArgumentException>(() => KernelSource.EntryName("groupnorm_finalize", ScalarType.Float64));
    }

    [Fact]
    public void TensorAddressesIncludeTheViewOffset()
    {
        TorchRuntime.Initialize();
        var t = zeros(10, 8);
        Assert.Equal(3 * 8 * sizeof(float), (KernelModule.Pointer(t.narrow(0, 3, 2)) - KernelModule.Pointer(t)).ToInt64());
        Assert.Equal(IntPtr.Zero, KernelModule.Pointer(null));
        Assert.True(KernelModule.Aligned(t, 4));
        Assert.False(KernelModule.Aligned(t.narrow(1, 1, 4), 4));
    }

    [Fact]
    public void OffTheGpuTheKernelEntriesDecline()
    {
        TorchRuntime.Initialize();
        var x = randn(2, 4, 3, 64);
        Assert.Null(FusedKernels.LayerNormPerHead(x, null, null, 1e-6));
        Assert.Null(FusedKernels.GroupNorm(randn(2, 8, 4, 4), 4, null, null, 1e-5, silu: true));
        Assert.Null(FusedKernels.LayerNormModulate(randn(2, 3, 8), null, null, 1e-6, zeros(2, 1, 8), zeros(2, 1, 8)));
    }

    // The fp16 conversions are inline PTX on the GPU; the emulation converts through the compiler's _Float16.
    private const string HalfToFloatPtx = """__device__ __forceinline__ float to_float(f16 x) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits)); return f; }""";
    private const string HalfToFloatHost = "inline float to_float(f16 x) { _Float16 h; memcpy(&h, &x.bits, 2); return (float)h; }";
    private const string FloatToHalfPtx = """    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(x));""";
    private const string FloatToHalfHost = "    _Float16 h = (_Float16)x; memcpy(&r.bits, &h, 2);";

    [Fact]
    public void KernelsMatchFloat64InACpuEmulationOfCuda()
    {
        var source = KernelSource.Code;
        Assert.Contains(HalfToFloatPtx, source);
        Assert.Contains(FloatToHalfPtx, source);
        var host = source.Replace(HalfToFloatPtx, HalfToFloatHost).Replace(FloatToHalfPtx, FloatToHalfHost);
        Assert.DoesNotContain("asm(", host);

        var dir = Directory.CreateTempSubdirectory("motiontune-kernels-").FullName;
        try
        {
            var files = Path.Combine(AppContext.BaseDirectory, "Runtime", "KernelEmulation");
            foreach (var name in new[] { "emu.h", "harness.cpp" }) File.Copy(Path.Combine(files, name), Path.Combine(dir, name));
            File.WriteAllText(Path.Combine(dir, "kernels.inc"), host);
            var (compiled, compilerOutput) = RunProcess("g++", "-std=c++17 -O1 -w -o harness harness.cpp", dir);
            Assert.True(compiled == 0, $"g++ failed on the kernels:\n{compilerOutput}");
            var (status, report) = RunProcess(Path.Combine(dir, "harness"), "", dir);
            output.WriteLine(report);
            Assert.True(status == 0, $"the emulated kernels are off:\n{report}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static (int ExitCode, string Output) RunProcess(string file, string arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}
