using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// The channels-last memory layout of (N, C, …) tensors, in which the channels of one position are neighbours (as
/// (N, H, W, C) is stored). cuDNN's fast convolution kernels work in it: given (N, C, H, W) tensors in the default layout,
/// cuDNN transposes input, weight and output around every call. TorchSharp has no memory-format argument, so the layout
/// is made from strides, which libtorch reads the same way.
/// </summary>
public static class ChannelsLast
{
    /// <summary>Strides of the dense channels-last layout of <paramref name="shape"/> (N, C, …): channels innermost, then the last dimension.</summary>
    public static long[] Strides(long[] shape)
    {
        if (shape.Length < 3) throw new ArgumentException($"Channels-last needs (N, C, ...) with spatial dimensions, got [{string.Join(", ", shape)}].");
        var strides = new long[shape.Length];
        strides[1] = 1;
        long step = shape[1];
        for (int i = shape.Length - 1; i >= 2; i--) { strides[i] = step; step *= shape[i]; }
        strides[0] = step;
        return strides;
    }

    /// <summary>Whether <paramref name="t"/> is laid out as <see cref="Strides"/> says (size-1 dimensions aside).</summary>
    public static bool Is(Tensor t)
    {
        if (t.dim() < 3) return false;
        var expected = Strides(t.shape);
        for (int i = 0; i < expected.Length; i++)
            if (t.shape[i] > 1 && t.stride(i) != expected[i]) return false;
        return true;
    }

    /// <summary>A channels-last copy of <paramref name="t"/> (N, C, …), or <paramref name="t"/> itself (a new handle) if it already is.</summary>
    public static Tensor Copy(Tensor t)
    {
        if (Is(t)) return t.alias();
        long[] toLast = [0, .. Enumerable.Range(2, (int)t.dim() - 2).Select(i => (long)i), 1];
        long[] back = [0, t.dim() - 1, .. Enumerable.Range(1, (int)t.dim() - 2).Select(i => (long)i)];
        using var dense = t.permute(toLast).contiguous();
        return dense.permute(back);
    }

    /// <summary>
    /// Re-lays a contiguous parameter (a convolution weight) out channels-last in its own storage: the same memory,
    /// so a captured CUDA graph or an optimizer holding it stays valid; the values are unchanged.
    /// </summary>
    public static void Relayout(Tensor weight)
    {
        if (Is(weight)) return;
        if (!weight.is_contiguous()) throw new ArgumentException($"ChannelsLast.Relayout: the tensor [{string.Join(", ", weight.shape)}] is not contiguous.");
        using var _ = no_grad();
        using var values = Copy(weight);
        // The same memory (and storage offset: the weight may be a slice of a packed buffer) seen as (N, …, C), then
        // permuted to (N, C, …): views only, so the strides are channels-last and nothing moves yet.
        long[] lastShape = [weight.shape[0], .. weight.shape[2..], weight.shape[1]];
        long[] back = [0, weight.dim() - 1, .. Enumerable.Range(1, (int)weight.dim() - 2).Select(i => (long)i)];
        using var flat = weight.view(lastShape);
        using var view = flat.permute(back);
        weight.set_(view);
        weight.copy_(values);
    }
}
