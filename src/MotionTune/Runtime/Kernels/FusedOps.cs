using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Runtime.Kernels;

/// <summary>
/// Memory-bound chains of elementwise work done in one fused CUDA kernel where that is possible (CUDA tensors of bf16,
/// fp16 or fp32, no gradient needed; see <see cref="FusedKernels"/>), else by the TorchSharp ops of
/// <see cref="FusedReference"/>, which CPU and meta runs and training always take, so their results stay exactly what
/// the unfused code gave.
/// </summary>
public static class FusedOps
{
    /// <summary>
    /// Whether the fused kernels may run. On by default; the environment variable <c>MOTIONTUNE_FUSED_KERNELS=0</c> turns
    /// them off. Without NVRTC on the machine they are off (with a warning); a kernel that NVRTC cannot compile or that fails
    /// to launch throws (with NVRTC's log) rather than falling back.
    /// </summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_FUSED_KERNELS") != "0";

    /// <summary>LayerNorm over the last dimension (attention heads of 32, 64 or 128 values on the kernel path).</summary>
    public static Tensor LayerNormPerHead(Tensor x, Tensor? weight, Tensor? bias, double eps) =>
        (UseKernel(x, weight, bias) ? FusedKernels.LayerNormPerHead(x, weight, bias, eps) : null)
        ?? FusedReference.LayerNormPerHead(x, weight, bias, eps);

    /// <summary>
    /// adaLN modulation of a LayerNorm, <c>shift + layer_norm(x)·(1 + scale)</c>, for x (S, R, D) and per-sample
    /// (S, 1, D) <paramref name="scale"/> and <paramref name="shift"/>.
    /// </summary>
    public static Tensor LayerNormModulate(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor scale, Tensor shift) =>
        (UseKernel(x, weight, bias, scale, shift) ? FusedKernels.LayerNormModulate(x, weight, bias, eps, scale, shift) : null)
        ?? FusedReference.LayerNormModulate(x, weight, bias, eps, scale, shift);

    /// <summary>
    /// <see cref="LayerNormModulate"/> written into <paramref name="output"/> (an (S, R, D) view with rows contiguous
    /// within each sample, e.g. one part of a joint sequence), so that the parts need no concatenation afterwards.
    /// </summary>
    public static void LayerNormModulateInto(Tensor output, Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor scale, Tensor shift)
    {
        if (UseKernel(x, weight, bias, scale, shift) && FusedKernels.LayerNormModulate(x, weight, bias, eps, scale, shift, output) is not null) return;
        using var result = FusedReference.LayerNormModulate(x, weight, bias, eps, scale, shift);
        output.copy_(result);
    }

    /// <summary><c>silu(group_norm(x))</c> for x (N, C, …).</summary>
    public static Tensor GroupNormSiLU(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps) =>
        (UseKernel(x, weight, bias) ? FusedKernels.GroupNorm(x, groups, weight, bias, eps, silu: true) : null)
        ?? FusedReference.GroupNormSiLU(x, groups, weight, bias, eps);

    /// <summary>
    /// <c>group_norm(x)</c> for x (N, C, …); on the kernel path strided inputs (such as permuted frames) are read in
    /// place and the statistics of few, large groups are spread over the whole GPU.
    /// </summary>
    public static Tensor GroupNorm(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps) =>
        (UseKernel(x, weight, bias) ? FusedKernels.GroupNorm(x, groups, weight, bias, eps, silu: false) : null)
        ?? FusedReference.GroupNorm(x, groups, weight, bias, eps);

    // Without NVRTC on the machine the unfused ops run, with one warning; a kernel that NVRTC fails to compile still throws.
    private static readonly Lazy<bool> CompilerPresent = new(() =>
    {
        if (Nvrtc.Available) return true;
        Log.Warning("NVRTC (libnvrtc.so) was not found, so the fused CUDA kernels are off and the unfused ops run. " +
                    $"Point {Nvrtc.LibraryEnvironmentVariable} at libnvrtc.so.* to turn them on.");
        return false;
    });

    /// <summary>Enabled, on CUDA, a compiler present, and no gradient wanted (the kernels have no backward).</summary>
    private static bool UseKernel(Tensor x, params Tensor?[] others)
    {
        if (!Enabled || !x.is_cuda || !CompilerPresent.Value) return false;
        if (!is_grad_enabled()) return true;
        return !x.requires_grad && others.All(t => t is null || !t.requires_grad);
    }
}

/// <summary>The TorchSharp ops that <see cref="FusedOps"/> replaces: the fallback, and the reference the kernels are checked against.</summary>
public static class FusedReference
{
    /// <summary><c>layer_norm</c> over the last dimension.</summary>
    public static Tensor LayerNormPerHead(Tensor x, Tensor? weight, Tensor? bias, double eps) =>
        F.layer_norm(x, [x.shape[^1]], weight, bias, eps);

    /// <summary><c>shift + layer_norm(x)·(1 + scale)</c>, as one addcmul.</summary>
    public static Tensor LayerNormModulate(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor scale, Tensor shift)
    {
        using var scope = NewDisposeScope();
        var normed = F.layer_norm(x, [x.shape[^1]], weight, bias, eps);
        return shift.addcmul(normed, 1 + scale, 1).MoveToOuterDisposeScope();
    }

    /// <summary><c>group_norm(x)</c>.</summary>
    public static Tensor GroupNorm(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps) =>
        F.group_norm(x, groups, weight, bias, eps);

    /// <summary><c>silu(group_norm(x))</c>.</summary>
    public static Tensor GroupNormSiLU(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps)
    {
        using var scope = NewDisposeScope();
        return F.silu(F.group_norm(x, groups, weight, bias, eps)).MoveToOuterDisposeScope();
    }
}
