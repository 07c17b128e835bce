using static TorchSharp.torch;

namespace MotionTune.Runtime.Kernels;

/// <summary>
/// Launches the fused kernels of <see cref="KernelSource"/> on CUDA tensors. Each entry returns null where the kernel does
/// not take the inputs (device, dtype, shape, layout), so the caller can use the TorchSharp ops instead; once a kernel is
/// chosen, failures throw. Inference only: outputs do not track gradients. Use <see cref="FusedOps"/> in models.
/// </summary>
public static class FusedKernels
{
    private const int ThreadsPerBlock = 256;
    private const int WarpsPerBlock = ThreadsPerBlock / 32;

    /// <summary>
    /// Compiles (once per process) and loads every kernel on CUDA device <paramref name="device"/> now, rather than at first
    /// use; returns what was used, e.g. <c>NVRTC 13.0 (/…/libnvrtc.so.13), sm_90</c>.
    /// </summary>
    /// <exception cref="KernelCompilationException">NVRTC is missing or rejected the source (the log is in the message).</exception>
    public static string Prepare(int device = 0)
    {
        foreach (var kernel in KernelSource.Kernels)
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
                KernelModule.Function(device, KernelSource.EntryName(kernel, dtype));
        var (major, minor) = CudaDriver.ComputeCapability(device);
        var (nvrtcMajor, nvrtcMinor) = Nvrtc.Version;
        return $"NVRTC {nvrtcMajor}.{nvrtcMinor} ({Nvrtc.LibraryPath}), sm_{major}{minor}";
    }

    /// <summary>
    /// LayerNorm over the last dimension (32, 64 or 128 values: attention heads) of <paramref name="x"/> (…, heads, d),
    /// reading strided views (such as q/k parts of a fused projection) in place; the output is contiguous.
    /// </summary>
    public static Tensor? LayerNormPerHead(Tensor x, Tensor? weight, Tensor? bias, double eps)
    {
        if (!Takes(x, weight, bias) || x.dim() < 2) return null;
        long d = x.shape[^1];
        if (d is not (32 or 64 or 128) || !IsVector(weight, d) || !IsVector(bias, d)) return null;
        long vec = d / 32;
        if (!(RowLayout(x) is { } layout && layout.Fits(vec) && KernelModule.Aligned(x, vec)))
        {
            x = FreshCopy(x);
            layout = RowLayout(x)!.Value;
        }
        if (!KernelModule.Aligned(weight, vec) || !KernelModule.Aligned(bias, vec)) return null;
        var y = empty(x.shape, x.dtype, x.device);
        long rows = x.numel() / d;
        if (rows == 0) return y;
        KernelModule.Launch(x.device_index, KernelSource.EntryName($"layernorm_heads_d{d}", x.dtype),
            (Blocks(rows, WarpsPerBlock), 1), ThreadsPerBlock,
            KernelModule.Pointer(x), KernelModule.Pointer(y), KernelModule.Pointer(weight), KernelModule.Pointer(bias),
            rows, layout.Heads, layout.TokenStride, layout.HeadStride, (float)eps);
        return y;
    }

    /// <summary>
    /// <c>layer_norm(x)·(1 + scale) + shift</c> for <paramref name="x"/> (S, R, D) with per-sample (S, 1, D) scale and
    /// shift rows (adaLN modulation); the LayerNorm's weight and bias are optional. Output contiguous (S, R, D), or
    /// written into <paramref name="output"/> when given: an (S, R, D) tensor whose rows are contiguous within each
    /// sample, such as a slice of a joint text + video sequence (then null when that output does not suit the kernel).
    /// </summary>
    public static Tensor? LayerNormModulate(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor scale, Tensor shift, Tensor? output = null)
    {
        if (!Takes(x, weight, bias, scale, shift) || x.dim() != 3) return null;
        long samples = x.shape[0], perSample = x.shape[1], d = x.shape[2];
        if (d > int.MaxValue || !IsVector(weight, d) || !IsVector(bias, d) || !IsSampleRows(scale, samples, d) || !IsSampleRows(shift, samples, d))
            return null;
        if (output is not null && (!Takes(output, x) || !output.shape.SequenceEqual(x.shape) || output.stride(2) != 1
                                   || (perSample > 1 && output.stride(1) != d)))
            return null;
        x = x.contiguous();
        long scaleStride = samples > 1 ? scale.stride(0) : 0, shiftStride = samples > 1 ? shift.stride(0) : 0;
        long outStride = output is null ? perSample * d : output.stride(0);
        bool vec4 = d % 4 == 0 && scaleStride % 4 == 0 && shiftStride % 4 == 0 && outStride % 4 == 0
            && KernelModule.Aligned(x, 4) && KernelModule.Aligned(weight, 4) && KernelModule.Aligned(bias, 4)
            && KernelModule.Aligned(scale, 4) && KernelModule.Aligned(shift, 4) && KernelModule.Aligned(output, 4);
        var y = output ?? empty(x.shape, x.dtype, x.device);
        long rows = samples * perSample;
        if (rows == 0) return y;
        KernelModule.Launch(x.device_index, KernelSource.EntryName(vec4 ? "layernorm_modulate_v4" : "layernorm_modulate_v1", x.dtype),
            (Blocks(rows, WarpsPerBlock), 1), ThreadsPerBlock,
            KernelModule.Pointer(x), KernelModule.Pointer(y), KernelModule.Pointer(weight), KernelModule.Pointer(bias),
            KernelModule.Pointer(scale), KernelModule.Pointer(shift), rows, perSample, scaleStride, shiftStride, outStride, (int)d, (float)eps);
        return y;
    }

    /// <summary>
    /// <c>group_norm(x)</c>, followed by SiLU when <paramref name="silu"/>, for <paramref name="x"/> (N, C, …): a
    /// statistics pass, a per-channel finalisation and one pass that normalises, applies the affine map (and SiLU).
    /// Reads strided inputs (e.g. a permuted (B, C, F, H, W) view of frames) in place where the spatial dimensions form
    /// at most two runs, the inner one unit-stride; the output is contiguous. Channels-last inputs (see
    /// <see cref="MotionTune.Models.Layers.ChannelsLast"/>) take kernels of their own and give a channels-last output.
    /// </summary>
    public static Tensor? GroupNorm(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps, bool silu)
    {
        if (!Takes(x, weight, bias) || x.dim() < 2) return null;
        long n = x.shape[0], c = x.shape[1];
        if (groups <= 0 || c % groups != 0 || !IsVector(weight, c) || !IsVector(bias, c)) return null;
        if (GroupNormLayout.Of(x) is not { } layout)
        {
            if (ChannelsLastLayout.Of(x) is { } channelsLast && c <= ChannelsLastLayout.MaxChannels && n * c <= int.MaxValue)
                return GroupNormChannelsLast(x, groups, weight, bias, eps, silu, channelsLast);
            x = x.contiguous();
            layout = GroupNormLayout.Of(x)!.Value;
        }
        long total = x.numel();
        if (n * c > int.MaxValue || layout.S1 > int.MaxValue || layout.S2 > int.MaxValue || total == 0) return null;
        bool vec4 = layout.AllowsVec4 && KernelModule.Aligned(x, 4);
        int vec = vec4 ? 4 : 1;
        int device = x.device_index;
        int multiprocessors = KernelModule.MultiprocessorCount(device);

        // Enough blocks for the statistics to fill the GPU even when there are few groups (temporal layers: N·G = 64).
        long groupSize = total / (n * groups);
        long splits = Math.Clamp(CeilDiv(4L * multiprocessors, n * groups), 1, Math.Max(1, groupSize / (ThreadsPerBlock * vec * 4L)));
        long partials = n * groups * splits * 3;
        using var workspace = empty(partials + n * c * 2, ScalarType.Float32, x.device);
        var partial = KernelModule.Pointer(workspace);
        var coef = partial + (nint)(partials * sizeof(float));
        var y = empty(x.shape, x.dtype, x.device);
        var v = vec4 ? "v4" : "v1";

        KernelModule.Launch(device, KernelSource.EntryName($"groupnorm_stats_{v}", x.dtype), ((uint)(n * groups), (uint)splits), ThreadsPerBlock,
            KernelModule.Pointer(x), partial, (int)c, (int)layout.S1, (int)layout.S2, layout.StrideN, layout.StrideC, layout.StrideS1,
            (int)groups, (int)splits);
        KernelModule.Launch(device, KernelSource.EntryName("groupnorm_finalize", x.dtype), (Blocks(n * c, ThreadsPerBlock), 1), ThreadsPerBlock,
            partial, KernelModule.Pointer(weight), KernelModule.Pointer(bias), coef, (int)n, (int)c, (int)groups, (int)splits, (float)eps);
        long step = (long)ThreadsPerBlock * vec;
        long chunk = Math.Max(step * 4, CeilDiv(CeilDiv(total, 16L * multiprocessors), step) * step);
        KernelModule.Launch(device, KernelSource.EntryName($"groupnorm_apply_{v}", x.dtype), (Blocks(total, chunk), 1), ThreadsPerBlock,
            KernelModule.Pointer(x), KernelModule.Pointer(y), coef, (int)c, (int)layout.S1, (int)layout.S2,
            layout.StrideN, layout.StrideC, layout.StrideS1, total, chunk, silu ? 1 : 0);
        return y;
    }

    /// <summary>
    /// <see cref="GroupNorm"/> of a channels-last input (channels innermost, e.g. (N, C, H, W) stored as (N, H, W, C)): a
    /// statistics pass that reads whole rows (a warp takes neighbouring channels), the shared finalisation, and one pass
    /// that writes the output channels-last too, so that the convolutions around it need no transposes.
    /// </summary>
    private static Tensor? GroupNormChannelsLast(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps, bool silu, ChannelsLastLayout layout)
    {
        long n = x.shape[0], c = x.shape[1], total = x.numel();
        if (layout.S > int.MaxValue) return null;
        int device = x.device_index;
        int multiprocessors = KernelModule.MultiprocessorCount(device);
        // Enough blocks to fill the GPU, with at least 16 rows each.
        long splits = Math.Clamp(CeilDiv(4L * multiprocessors, n), 1, Math.Max(1, layout.S / 16));
        long partials = n * groups * splits * 3;
        using var workspace = empty(partials + n * c * 2, ScalarType.Float32, x.device);
        var partial = KernelModule.Pointer(workspace);
        var coef = partial + (nint)(partials * sizeof(float));
        var y = empty_strided(x.shape, MotionTune.Models.Layers.ChannelsLast.Strides(x.shape), x.dtype, x.device);
        bool vec4 = c % 4 == 0 && layout.StrideS % 4 == 0 && layout.StrideN % 4 == 0 && KernelModule.Aligned(x, 4);
        int vec = vec4 ? 4 : 1;

        KernelModule.Launch(device, KernelSource.EntryName("groupnorm_stats_cl", x.dtype), ((uint)n, (uint)splits), ThreadsPerBlock,
            KernelModule.Pointer(x), partial, (int)c, (int)layout.S, layout.StrideN, layout.StrideS, (int)groups, (int)splits);
        KernelModule.Launch(device, KernelSource.EntryName("groupnorm_finalize", x.dtype), (Blocks(n * c, ThreadsPerBlock), 1), ThreadsPerBlock,
            partial, KernelModule.Pointer(weight), KernelModule.Pointer(bias), coef, (int)n, (int)c, (int)groups, (int)splits, (float)eps);
        long step = (long)ThreadsPerBlock * vec;
        long chunk = Math.Max(step * 4, CeilDiv(CeilDiv(total, 16L * multiprocessors), step) * step);
        KernelModule.Launch(device, KernelSource.EntryName(vec4 ? "groupnorm_apply_cl_v4" : "groupnorm_apply_cl_v1", x.dtype),
            (Blocks(total, chunk), 1), ThreadsPerBlock,
            KernelModule.Pointer(x), KernelModule.Pointer(y), coef, (int)c, (int)layout.S, layout.StrideN, layout.StrideS,
            total, chunk, silu ? 1 : 0);
        return y;
    }

    /// <summary>CUDA tensors of one device and of a dtype the kernels take, with weights of the input's dtype.</summary>
    private static bool Takes(Tensor x, params Tensor?[] others)
    {
        if (!x.is_cuda || KernelSource.DTypeSuffix(x.dtype) is null) return false;
        foreach (var t in others)
            if (t is not null && (!t.is_cuda || t.device_index != x.device_index || t.dtype != x.dtype)) return false;
        return true;
    }

    /// <summary>A contiguous copy in new (so aligned) memory; <c>contiguous()</c> would return a misaligned contiguous view as is.</summary>
    private static Tensor FreshCopy(Tensor x)
    {
        var copy = empty(x.shape, x.dtype, x.device);
        copy.copy_(x);
        return copy;
    }

    private static bool IsVector(Tensor? t, long length) => t is null || (t.dim() == 1 && t.shape[0] == length && t.stride(0) == 1);

    private static bool IsSampleRows(Tensor t, long samples, long d) =>
        t.dim() == 3 && t.shape[0] == samples && t.shape[1] == 1 && t.shape[2] == d && t.stride(2) == 1;

    private static uint Blocks(long items, long perBlock)
    {
        long blocks = CeilDiv(items, perBlock);
        if (blocks > int.MaxValue) throw new ArgumentException($"fused kernel: {items} items need more than 2^31 blocks.");
        return (uint)blocks;
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    /// <summary>Rows of (…, heads, d) addressed as token·token_stride + head·head_stride, with unit-stride rows.</summary>
    internal readonly record struct HeadRows(long Heads, long TokenStride, long HeadStride)
    {
        public bool Fits(long vec) => TokenStride % vec == 0 && HeadStride % vec == 0;
    }

    /// <summary>The (token, head) addressing of <paramref name="x"/>'s rows, or null when the leading dimensions do not merge.</summary>
    internal static HeadRows? RowLayout(Tensor x)
    {
        int dims = (int)x.dim();
        if (dims < 2 || (x.shape[^1] > 1 && x.stride(-1) != 1)) return null;
        long heads = x.shape[^2], headStride = heads > 1 ? x.stride(-2) : 0;
        var runs = Runs(x.shape[..^2], Enumerable.Range(0, dims - 2).Select(i => x.stride(i)).ToArray());
        if (runs.Count > 1) return null;
        return new HeadRows(heads, runs.Count == 1 ? runs[0].Stride : 0, headStride);
    }

    /// <summary>
    /// Dimensions merged where one steps evenly over the next (size-1 dimensions dropped), innermost first, as
    /// (size, stride) runs: a contiguous block is one run.
    /// </summary>
    internal static List<(long Size, long Stride)> Runs(long[] shape, long[] strides)
    {
        var runs = new List<(long Size, long Stride)>();
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (runs.Count > 0 && runs[^1].Stride * runs[^1].Size == strides[i])
                runs[^1] = (runs[^1].Size * shape[i], runs[^1].Stride);
            else runs.Add((shape[i], strides[i]));
        }
        return runs;
    }

    /// <summary>
    /// x (N, C, …) with unit-stride channels and spatial positions that form one run: the channels-last kernels' logical
    /// (N, C, S) with element (n, c, s) at n·StrideN + s·StrideS + c. Strides of size-1 dimensions are zero.
    /// </summary>
    internal readonly record struct ChannelsLastLayout(long S, long StrideN, long StrideS)
    {
        /// <summary>The most channels the statistics kernel keeps in shared memory (CL_MAX_CHANNELS).</summary>
        public const long MaxChannels = 2048;

        /// <summary>The layout of <paramref name="x"/>, or null when it is not channels-last.</summary>
        public static ChannelsLastLayout? Of(Tensor x)
        {
            int dims = (int)x.dim();
            if (dims < 3 || x.shape[1] < 2 || x.stride(1) != 1) return null;
            var spatial = Runs(x.shape[2..], Enumerable.Range(2, dims - 2).Select(i => x.stride(i)).ToArray());
            if (spatial.Count != 1 || spatial[0].Stride < x.shape[1]) return null;
            return new ChannelsLastLayout(spatial[0].Size, x.shape[0] > 1 ? x.stride(0) : 0, spatial[0].Stride);
        }
    }

    /// <summary>
    /// x (N, C, …) as the kernels' logical (N, C, S1, S2) with element strides (StrideN, StrideC, StrideS1, 1).
    /// Strides of size-1 dimensions are zero.
    /// </summary>
    internal readonly record struct GroupNormLayout(long S1, long S2, long StrideN, long StrideC, long StrideS1)
    {
        /// <summary>Whether four consecutive s2 values can move as one aligned vector (given an aligned start).</summary>
        public bool AllowsVec4 => S2 % 4 == 0 && StrideN % 4 == 0 && StrideC % 4 == 0 && StrideS1 % 4 == 0;

        /// <summary>
        /// The layout of <paramref name="x"/>, or null when its spatial dimensions need a copy first (more than two runs,
        /// or an inner run that is not unit-stride).
        /// </summary>
        public static GroupNormLayout? Of(Tensor x)
        {
            int dims = (int)x.dim();
            var spatial = Runs(x.shape[2..], Enumerable.Range(2, dims - 2).Select(i => x.stride(i)).ToArray());
            long strideN = x.shape[0] > 1 ? x.stride(0) : 0, strideC = x.shape[1] > 1 ? x.stride(1) : 0;
            return spatial.Count switch
            {
                0 => new GroupNormLayout(1, 1, strideN, strideC, 0),
                1 when spatial[0].Stride == 1 => new GroupNormLayout(1, spatial[0].Size, strideN, strideC, 0),
                2 when spatial[0].Stride == 1 => new GroupNormLayout(spatial[1].Size, spatial[0].Size, strideN, strideC, spatial[1].Stride),
                _ => null, // e.g. a transposed (B, C, N) view of tokens: reading it in place would not coalesce
            };
        }
    }
}
