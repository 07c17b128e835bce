using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// Counts the multiply-accumulate work of a forward pass analytically, from tensor shapes: 2·M·N·K per matrix
/// product in <see cref="Linear"/>, convolutions and attention (QKᵀ and AV). Elementwise work (norms, activations)
/// is not counted, which is the usual convention for model FLOPs. Run the model on the <c>meta</c> device inside
/// <see cref="Measure"/> to count without computing.
/// </summary>
public static class FlopCounter
{
    [ThreadStatic] private static long _flops;
    [ThreadStatic] private static int _depth;

    /// <summary>True while a measurement is running on this thread.</summary>
    public static bool Active => _depth > 0;

    /// <summary>Runs <paramref name="action"/> and returns the floating-point operations it issued through our layers.</summary>
    public static long Measure(Action action)
    {
        long before = _flops;
        _depth++;
        try { action(); }
        finally { _depth--; }
        long counted = _flops - before;
        if (_depth == 0) _flops = 0;
        return counted;
    }

    /// <summary>Adds 2·m·n·k for a (m×k)·(k×n) product.</summary>
    internal static void AddMatmul(long m, long n, long k)
    {
        if (_depth > 0) _flops += 2 * m * n * k;
    }

    /// <summary>Linear layer: input (…, in) → (…, out).</summary>
    internal static void AddLinear(Tensor input, long inFeatures, long outFeatures)
    {
        if (_depth > 0) AddMatmul(input.numel() / inFeatures, outFeatures, inFeatures);
    }

    /// <summary>Convolution: each output element costs (in/groups)·kernel multiply-adds.</summary>
    internal static void AddConvolution(Tensor output, Tensor weight)
    {
        if (_depth == 0) return;
        long perOutput = weight.numel() / weight.shape[0]; // (in/groups)·kernel volume
        _flops += 2 * output.numel() * perOutput;
    }

    /// <summary>Attention on (B, heads, Nq, d) queries and (B, heads, Nk, d) keys: QKᵀ plus AV.</summary>
    internal static void AddAttention(Tensor q, Tensor k, Tensor v)
    {
        if (_depth == 0) return;
        long batchHeads = q.numel() / (q.shape[^1] * q.shape[^2]);
        long nq = q.shape[^2], nk = k.shape[^2];
        AddMatmul(batchHeads * nq, nk, q.shape[^1]);
        AddMatmul(batchHeads * nq, v.shape[^1], nk);
    }
}
