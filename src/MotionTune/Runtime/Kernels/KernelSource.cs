namespace MotionTune.Runtime.Kernels;

/// <summary>
/// CUDA C++ of the fused inference kernels, compiled at run time by <see cref="Nvrtc"/>. No CUDA header is included,
/// so NVRTC alone suffices: bf16 and fp16 are 16-bit patterns converted by hand (bf16 rounds to nearest even, as
/// PyTorch does). Every kernel reads bf16, fp16 or fp32, computes in fp32 and rounds once on output. Entry points are
/// <c>extern "C"</c> instances named <c>{kernel}_{dtype}</c> (dtype f32, bf16, f16), see <see cref="EntryName"/>.
/// </summary>
public static class KernelSource
{
    /// <summary>Suffix of the entry points for <paramref name="dtype"/>, or null if the kernels do not take it.</summary>
    public static string? DTypeSuffix(TorchSharp.torch.ScalarType dtype) => dtype switch
    {
        TorchSharp.torch.ScalarType.Float32 => "f32",
        TorchSharp.torch.ScalarType.BFloat16 => "bf16",
        TorchSharp.torch.ScalarType.Float16 => "f16",
        _ => null,
    };

    /// <summary>The entry point of <paramref name="kernel"/> for <paramref name="dtype"/>.</summary>
    public static string EntryName(string kernel, TorchSharp.torch.ScalarType dtype) =>
        $"{kernel}_{DTypeSuffix(dtype) ?? throw new ArgumentException($"fused kernels do not take {dtype} tensors.")}";

    /// <summary>Every kernel name (without the dtype suffix) that <see cref="Code"/> instantiates.</summary>
    public static readonly string[] Kernels =
    [
        "layernorm_heads_d32", "layernorm_heads_d64", "layernorm_heads_d128",
        "layernorm_modulate_v1", "layernorm_modulate_v4",
        "groupnorm_stats_v1", "groupnorm_stats_v4", "groupnorm_finalize",
        "groupnorm_apply_v1", "groupnorm_apply_v4",
        "groupnorm_stats_cl", "groupnorm_apply_cl_v1", "groupnorm_apply_cl_v4",
    ];

    /// <summary>The source.</summary>
    public const string Code = """
// ---- storage types and conversions -------------------------------------------------------------------------------
struct bf16 { unsigned short bits; };
struct f16 { unsigned short bits; };

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __uint_as_float(((unsigned int)x.bits) << 16); }
__device__ __forceinline__ float to_float(f16 x) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits)); return f; }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_float<bf16>(float x)
{
    // Round to nearest even, as c10::BFloat16; any NaN becomes the canonical quiet NaN.
    unsigned int u = __float_as_uint(x);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.bits = 0x7fc0; return r; }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = (unsigned short)(u >> 16);
    return r;
}
template <> __device__ __forceinline__ f16 from_float<f16>(float x)
{
    f16 r;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(x));
    return r;
}

// VEC consecutive elements moved with one aligned access (the caller guarantees the alignment).
template <typename T, int VEC> struct alignas(sizeof(T) * VEC) Pack { T v[VEC]; };

template <typename T, int VEC> __device__ __forceinline__ void load(const T* p, float* out)
{
    const Pack<T, VEC> pack = *reinterpret_cast<const Pack<T, VEC>*>(p);
#pragma unroll
    for (int i = 0; i < VEC; i++) out[i] = to_float(pack.v[i]);
}

template <typename T, int VEC> __device__ __forceinline__ void store(T* p, const float* in)
{
    Pack<T, VEC> pack;
#pragma unroll
    for (int i = 0; i < VEC; i++) pack.v[i] = from_float<T>(in[i]);
    *reinterpret_cast<Pack<T, VEC>*>(p) = pack;
}

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// ---- (a) LayerNorm of short rows (per-head q/k norms) --------------------------------------------------------------
// Rows of D = 32·VEC values, addressed as (token, head): row r starts at x + (r / heads)·token_stride +
// (r % heads)·head_stride, so strided q/k views (e.g. of a fused qkv projection) are read in place. One warp per row,
// each lane holding VEC adjacent values; mean, then the variance of the centred values (two passes over registers).
// The output is contiguous (rows, D). w and b (D values) may be null.
template <typename T, int VEC>
__device__ void layernorm_heads(const T* x, T* y, const T* w, const T* b, long long rows, long long heads,
                                long long token_stride, long long head_stride, float eps)
{
    const int D = 32 * VEC;
    const int lane = threadIdx.x & 31;
    const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return; // whole warps leave together: the row is per warp
    const T* in = x + (row / heads) * token_stride + (row % heads) * head_stride + lane * VEC;
    float v[VEC];
    load<T, VEC>(in, v);
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < VEC; i++) sum += v[i];
    const float mean = warp_sum(sum) / D;
    float squares = 0.f;
#pragma unroll
    for (int i = 0; i < VEC; i++) { v[i] -= mean; squares += v[i] * v[i]; }
    const float rstd = rsqrtf(warp_sum(squares) / D + eps);
    float wv[VEC], bv[VEC];
    if (w) load<T, VEC>(w + lane * VEC, wv);
    if (b) load<T, VEC>(b + lane * VEC, bv);
#pragma unroll
    for (int i = 0; i < VEC; i++)
    {
        v[i] *= rstd;
        if (w) v[i] *= wv[i];
        if (b) v[i] += bv[i];
    }
    store<T, VEC>(y + row * D + lane * VEC, v);
}

// ---- (b) LayerNorm + adaLN modulation ------------------------------------------------------------------------------
// y = norm(x)·(1 + scale) + shift over contiguous rows of D values, where norm is a LayerNorm (affine w, b optional)
// and scale/shift are the rows of the row's sample (sample = row / rows_per_sample; D contiguous values each, sample
// strides given). One warp per row, VEC adjacent values per lane and step; three passes over the row (mean, centred
// variance, output), the second and third reading it from cache.
template <typename T, int VEC>
__device__ void layernorm_modulate(const T* x, T* y, const T* w, const T* b, const T* scale, const T* shift,
                                   long long rows, long long rows_per_sample, long long scale_stride,
                                   long long shift_stride, long long out_stride, int D, float eps)
{
    const int lane = threadIdx.x & 31;
    const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const T* in = x + row * D;
    float v[VEC];
    float sum = 0.f;
    for (int j = lane * VEC; j < D; j += 32 * VEC)
    {
        load<T, VEC>(in + j, v);
#pragma unroll
        for (int i = 0; i < VEC; i++) sum += v[i];
    }
    const float mean = warp_sum(sum) / D;
    float squares = 0.f;
    for (int j = lane * VEC; j < D; j += 32 * VEC)
    {
        load<T, VEC>(in + j, v);
#pragma unroll
        for (int i = 0; i < VEC; i++) { const float c = v[i] - mean; squares += c * c; }
    }
    const float rstd = rsqrtf(warp_sum(squares) / D + eps);
    const long long sample = row / rows_per_sample;
    const T* sc = scale + sample * scale_stride;
    const T* sh = shift + sample * shift_stride;
    T* out = y + sample * out_stride + (row - sample * rows_per_sample) * D; // sample s's rows start at s·out_stride
    for (int j = lane * VEC; j < D; j += 32 * VEC)
    {
        float s[VEC], t[VEC], wv[VEC], bv[VEC];
        load<T, VEC>(in + j, v);
        load<T, VEC>(sc + j, s);
        load<T, VEC>(sh + j, t);
        if (w) load<T, VEC>(w + j, wv);
        if (b) load<T, VEC>(b + j, bv);
#pragma unroll
        for (int i = 0; i < VEC; i++)
        {
            float n = (v[i] - mean) * rstd;
            if (w) n *= wv[i];
            if (b) n += bv[i];
            v[i] = n * (1.f + s[i]) + t[i];
        }
        store<T, VEC>(out + j, v);
    }
}

// ---- (c) GroupNorm (+ SiLU) ---------------------------------------------------------------------------------------
// The input is a logical (N, C, S1, S2) tensor with element (n, c, s1, s2) at n·sN + c·sC + s1·sS1 + s2 (e.g. a
// permuted (B, C, F, H·W) view of (B, F, C, H·W) frames); the output is contiguous (N, C, S1, S2). A group's elements
// are one contiguous range of row-major indices, so both passes walk row-major indices with a cursor that keeps the
// coordinates by carrying (a division per element would cost more than the memory traffic).
struct Layout { int C, S1, S2; long long sN, sC, sS1; };

struct Cursor
{
    int n, c, s1, s2;

    __device__ void set(const Layout& l, long long i)
    {
        s2 = (int)(i % l.S2); i /= l.S2;
        s1 = (int)(i % l.S1); i /= l.S1;
        c = (int)(i % l.C);
        n = (int)(i / l.C);
    }

    // Adds a step given as coordinates (set() of the step's index count); each digit is below its radix.
    __device__ void advance(const Layout& l, const Cursor& step)
    {
        s2 += step.s2; int carry = s2 >= l.S2; if (carry) s2 -= l.S2;
        s1 += step.s1 + carry; carry = s1 >= l.S1; if (carry) s1 -= l.S1;
        c += step.c + carry; carry = c >= l.C; if (carry) c -= l.C;
        n += step.n + carry;
    }

    __device__ long long offset(const Layout& l) const { return n * l.sN + c * l.sC + s1 * l.sS1 + s2; }
};

// Count, mean and sum of squared deviations; merged as Chan et al.
struct Moments { float count, mean, m2; };

__device__ __forceinline__ Moments merge(Moments a, Moments b)
{
    const float count = a.count + b.count;
    if (count == 0.f) return a;
    const float delta = b.mean - a.mean;
    const float share = b.count / count;
    Moments r;
    r.count = count;
    r.mean = a.mean + delta * share;
    r.m2 = a.m2 + b.m2 + delta * delta * a.count * share;
    return r;
}

__device__ Moments block_moments(Moments m)
{
    __shared__ Moments warps[32];
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
    {
        Moments other;
        other.count = __shfl_xor_sync(0xffffffffu, m.count, offset);
        other.mean = __shfl_xor_sync(0xffffffffu, m.mean, offset);
        other.m2 = __shfl_xor_sync(0xffffffffu, m.m2, offset);
        m = merge(m, other);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, count = (blockDim.x + 31) >> 5;
    if (lane == 0) warps[warp] = m;
    __syncthreads();
    if (warp == 0)
    {
        Moments zero = { 0.f, 0.f, 0.f };
        m = lane < count ? warps[lane] : zero;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1)
        {
            Moments other;
            other.count = __shfl_xor_sync(0xffffffffu, m.count, offset);
            other.mean = __shfl_xor_sync(0xffffffffu, m.mean, offset);
            other.m2 = __shfl_xor_sync(0xffffffffu, m.m2, offset);
            m = merge(m, other);
        }
    }
    return m; // valid in thread 0
}

// Pass 1: grid (N·groups, splits). Block (group, split) reduces its slice of the group's indices to moments
// (partial[(group·splits + split)·3 + {0, 1, 2}] = count, mean, m2). Each thread sums deviations from its first value
// (shifted sums: cheap, and free of the cancellation of raw sums of squares) and converts them to moments once.
template <typename T, int VEC>
__device__ void groupnorm_stats(const T* x, float* partial, int C, int S1, int S2, long long sN, long long sC,
                                long long sS1, int groups, int splits)
{
    const Layout l = { C, S1, S2, sN, sC, sS1 };
    const long long group = blockIdx.x, split = blockIdx.y;
    const long long size = (long long)(C / groups) * S1 * S2;
    const long long chunk = ((size + splits - 1) / splits + VEC - 1) / VEC * VEC;
    const long long begin = group * size + split * chunk;
    const long long end = begin + chunk < (group + 1) * size ? begin + chunk : (group + 1) * size;
    Cursor at, step;
    at.set(l, begin + (long long)threadIdx.x * VEC);
    step.set(l, (long long)blockDim.x * VEC);
    float shift = 0.f, sum = 0.f, squares = 0.f, count = 0.f;
    bool first = true;
    for (long long i = begin + (long long)threadIdx.x * VEC; i < end; i += (long long)blockDim.x * VEC)
    {
        float v[VEC];
        load<T, VEC>(x + at.offset(l), v);
        if (first) { shift = v[0]; first = false; }
#pragma unroll
        for (int k = 0; k < VEC; k++) { const float d = v[k] - shift; sum += d; squares += d * d; }
        count += VEC;
        at.advance(l, step);
    }
    Moments m = { count, 0.f, 0.f };
    if (count > 0.f)
    {
        const float mean = sum / count;
        m.mean = shift + mean;
        m.m2 = fmaxf(squares - sum * mean, 0.f);
    }
    m = block_moments(m);
    if (threadIdx.x == 0)
    {
        float* out = partial + (group * splits + split) * 3;
        out[0] = m.count; out[1] = m.mean; out[2] = m.m2;
    }
}

// Pass 2: one thread per (n, c) plane merges its group's partial moments and writes the plane's affine map
// coef[2·plane] = a, coef[2·plane + 1] = b with norm·w + bias = x·a + b (as PyTorch's group norm computes it).
template <typename T>
__device__ void groupnorm_finalize(const float* partial, const T* w, const T* b, float* coef, int N, int C,
                                   int groups, int splits, float eps)
{
    const int plane = blockIdx.x * blockDim.x + threadIdx.x;
    if (plane >= N * C) return;
    const int n = plane / C, c = plane % C;
    const float* p = partial + ((long long)n * groups + c / (C / groups)) * splits * 3;
    Moments m = { p[0], p[1], p[2] };
    for (int s = 1; s < splits; s++)
    {
        Moments next = { p[3 * s], p[3 * s + 1], p[3 * s + 2] };
        m = merge(m, next);
    }
    const float rstd = rsqrtf(m.m2 / m.count + eps);
    const float a = rstd * (w ? to_float(w[c]) : 1.f);
    coef[2 * plane] = a;
    coef[2 * plane + 1] = (b ? to_float(b[c]) : 0.f) - m.mean * a;
}

// Pass 3: y = x·a + b, then SiLU if silu != 0, over row-major indices; block k covers [k·chunk, (k + 1)·chunk).
template <typename T, int VEC>
__device__ void groupnorm_apply(const T* x, T* y, const float* coef, int C, int S1, int S2, long long sN,
                                long long sC, long long sS1, long long total, long long chunk, int silu)
{
    const Layout l = { C, S1, S2, sN, sC, sS1 };
    const long long begin = blockIdx.x * chunk;
    const long long end = begin + chunk < total ? begin + chunk : total;
    Cursor at, step;
    at.set(l, begin + (long long)threadIdx.x * VEC);
    step.set(l, (long long)blockDim.x * VEC);
    for (long long i = begin + (long long)threadIdx.x * VEC; i < end; i += (long long)blockDim.x * VEC)
    {
        const long long plane = (long long)at.n * C + at.c;
        const float a = coef[2 * plane], b = coef[2 * plane + 1];
        float v[VEC];
        load<T, VEC>(x + at.offset(l), v);
#pragma unroll
        for (int k = 0; k < VEC; k++)
        {
            const float z = v[k] * a + b;
            v[k] = silu ? z / (1.f + expf(-z)) : z;
        }
        store<T, VEC>(y + i, v);
        at.advance(l, step);
    }
}

// ---- (d) GroupNorm (+ SiLU) of channels-last tensors ------------------------------------------------------------------
// The input is a logical (N, C, S) tensor with element (n, c, s) at n·sN + s·sS + c: channels innermost, as (N, C, H, W)
// frames stored as (N, H, W, C) (or the permuted (B, C, F, H, W) view of such frames, whose F·H·W positions form one run).
// The output is the dense channels-last layout y[(n·S + s)·C + c]. Pass 2 is groupnorm_finalize, on the same partials.
#define CL_MAX_CHANNELS 2048

// Pass 1: grid (N, splits). Block (n, split) reads rows [begin, end) of sample n; thread t owns channels t, t + blockDim,
// ... (a warp reads 32 neighbouring channels of a row: coalesced) and keeps shifted sums per channel. The channels'
// moments meet in shared memory, and thread g merges group g's into partial[((n·groups + g)·splits + split)·3 + ...].
template <typename T>
__device__ void groupnorm_stats_cl(const T* x, float* partial, int C, int S, long long sN, long long sS, int groups, int splits)
{
    __shared__ float moments[3 * CL_MAX_CHANNELS];
    const long long n = blockIdx.x;
    const int split = blockIdx.y;
    const int rows = (S + splits - 1) / splits;
    const int begin = split * rows < S ? split * rows : S;
    const int end = begin + rows < S ? begin + rows : S;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
    {
        const T* p = x + n * sN + c;
        const float shift = begin < end ? to_float(p[begin * sS]) : 0.f;
        float sum = 0.f, squares = 0.f;
#pragma unroll 4
        for (int s = begin; s < end; s++) { const float d = to_float(p[s * sS]) - shift; sum += d; squares += d * d; }
        const float count = (float)(end - begin);
        const float mean = count > 0.f ? sum / count : 0.f;
        moments[3 * c] = count;
        moments[3 * c + 1] = shift + mean;
        moments[3 * c + 2] = count > 0.f ? fmaxf(squares - sum * mean, 0.f) : 0.f;
    }
    __syncthreads();
    const int per_group = C / groups;
    for (int g = threadIdx.x; g < groups; g += blockDim.x)
    {
        Moments m = { 0.f, 0.f, 0.f };
        for (int c = g * per_group; c < (g + 1) * per_group; c++)
        {
            Moments next = { moments[3 * c], moments[3 * c + 1], moments[3 * c + 2] };
            m = merge(m, next);
        }
        float* out = partial + ((n * groups + g) * splits + split) * 3;
        out[0] = m.count; out[1] = m.mean; out[2] = m.m2;
    }
}

// Pass 3: y[(n·S + s)·C + c] = x·a + b (then SiLU if silu != 0) over the output's indices; block k covers
// [k·chunk, (k + 1)·chunk). With VEC = 4, C is a multiple of 4, so a vector never leaves its row.
template <typename T, int VEC>
__device__ void groupnorm_apply_cl(const T* x, T* y, const float* coef, int C, int S, long long sN, long long sS,
                                   long long total, long long chunk, int silu)
{
    const long long begin = blockIdx.x * chunk;
    const long long end = begin + chunk < total ? begin + chunk : total;
    const long long first = begin + (long long)threadIdx.x * VEC, stride = (long long)blockDim.x * VEC;
    // (n, s, c) of the current index, carried forward by the (row, channel) digits of the stride.
    long long row = first / C;
    int c = (int)(first - row * C);
    long long n = row / S;
    int s = (int)(row - n * S);
    const long long step_rows = stride / C;
    const int step_c = (int)(stride - step_rows * C);
    for (long long i = first; i < end; i += stride)
    {
        const long long plane = n * C + c;
        float v[VEC];
        load<T, VEC>(x + n * sN + s * sS + c, v);
#pragma unroll
        for (int k = 0; k < VEC; k++)
        {
            const float z = v[k] * coef[2 * (plane + k)] + coef[2 * (plane + k) + 1];
            v[k] = silu ? z / (1.f + expf(-z)) : z;
        }
        store<T, VEC>(y + i, v);
        c += step_c;
        long long carry_rows = step_rows + (c >= C ? 1 : 0);
        if (c >= C) c -= C;
        long long next = s + carry_rows;
        n += next / S;
        s = (int)(next % S);
    }
}

// ---- entry points --------------------------------------------------------------------------------------------------
#define ENTRIES(NAME, T)                                                                                              \
extern "C" __global__ void layernorm_heads_d32_##NAME(const T* x, T* y, const T* w, const T* b, long long rows,       \
    long long heads, long long token_stride, long long head_stride, float eps)                                        \
{ layernorm_heads<T, 1>(x, y, w, b, rows, heads, token_stride, head_stride, eps); }                                   \
extern "C" __global__ void layernorm_heads_d64_##NAME(const T* x, T* y, const T* w, const T* b, long long rows,       \
    long long heads, long long token_stride, long long head_stride, float eps)                                        \
{ layernorm_heads<T, 2>(x, y, w, b, rows, heads, token_stride, head_stride, eps); }                                   \
extern "C" __global__ void layernorm_heads_d128_##NAME(const T* x, T* y, const T* w, const T* b, long long rows,      \
    long long heads, long long token_stride, long long head_stride, float eps)                                        \
{ layernorm_heads<T, 4>(x, y, w, b, rows, heads, token_stride, head_stride, eps); }                                   \
extern "C" __global__ void layernorm_modulate_v1_##NAME(const T* x, T* y, const T* w, const T* b, const T* scale,     \
    const T* shift, long long rows, long long rows_per_sample, long long scale_stride, long long shift_stride,          \
    long long out_stride, int D, float eps)                                                                            \
{ layernorm_modulate<T, 1>(x, y, w, b, scale, shift, rows, rows_per_sample, scale_stride, shift_stride, out_stride, D, eps); }   \
extern "C" __global__ void layernorm_modulate_v4_##NAME(const T* x, T* y, const T* w, const T* b, const T* scale,     \
    const T* shift, long long rows, long long rows_per_sample, long long scale_stride, long long shift_stride,          \
    long long out_stride, int D, float eps)                                                                            \
{ layernorm_modulate<T, 4>(x, y, w, b, scale, shift, rows, rows_per_sample, scale_stride, shift_stride, out_stride, D, eps); }   \
extern "C" __global__ void groupnorm_stats_v1_##NAME(const T* x, float* partial, int C, int S1, int S2, long long sN,  \
    long long sC, long long sS1, int groups, int splits)                                                               \
{ groupnorm_stats<T, 1>(x, partial, C, S1, S2, sN, sC, sS1, groups, splits); }                                        \
extern "C" __global__ void groupnorm_stats_v4_##NAME(const T* x, float* partial, int C, int S1, int S2, long long sN,  \
    long long sC, long long sS1, int groups, int splits)                                                               \
{ groupnorm_stats<T, 4>(x, partial, C, S1, S2, sN, sC, sS1, groups, splits); }                                        \
extern "C" __global__ void groupnorm_finalize_##NAME(const float* partial, const T* w, const T* b, float* coef, int N, \
    int C, int groups, int splits, float eps)                                                                          \
{ groupnorm_finalize<T>(partial, w, b, coef, N, C, groups, splits, eps); }                                            \
extern "C" __global__ void groupnorm_apply_v1_##NAME(const T* x, T* y, const float* coef, int C, int S1, int S2,       \
    long long sN, long long sC, long long sS1, long long total, long long chunk, int silu)                             \
{ groupnorm_apply<T, 1>(x, y, coef, C, S1, S2, sN, sC, sS1, total, chunk, silu); }                                    \
extern "C" __global__ void groupnorm_apply_v4_##NAME(const T* x, T* y, const float* coef, int C, int S1, int S2,       \
    long long sN, long long sC, long long sS1, long long total, long long chunk, int silu)                             \
{ groupnorm_apply<T, 4>(x, y, coef, C, S1, S2, sN, sC, sS1, total, chunk, silu); }                                    \
extern "C" __global__ void groupnorm_stats_cl_##NAME(const T* x, float* partial, int C, int S, long long sN,          \
    long long sS, int groups, int splits)                                                                              \
{ groupnorm_stats_cl<T>(x, partial, C, S, sN, sS, groups, splits); }                                                  \
extern "C" __global__ void groupnorm_apply_cl_v1_##NAME(const T* x, T* y, const float* coef, int C, int S,            \
    long long sN, long long sS, long long total, long long chunk, int silu)                                            \
{ groupnorm_apply_cl<T, 1>(x, y, coef, C, S, sN, sS, total, chunk, silu); }                                            \
extern "C" __global__ void groupnorm_apply_cl_v4_##NAME(const T* x, T* y, const float* coef, int C, int S,            \
    long long sN, long long sS, long long total, long long chunk, int silu)                                            \
{ groupnorm_apply_cl<T, 4>(x, y, coef, C, S, sN, sS, total, chunk, silu); }

ENTRIES(f32, float)
ENTRIES(bf16, bf16)
ENTRIES(f16, f16)
""";
}
