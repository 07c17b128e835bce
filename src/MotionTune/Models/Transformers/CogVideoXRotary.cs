using static TorchSharp.torch;

namespace MotionTune.Models.Transformers;

/// <summary>
/// Rotary tables laid out for the joint [text, video] sequence of a CogVideoX block, so that q and k are rotated in
/// one pass without slicing: the text rows are the identity (cos 1, sin 0), which is what applying the rotation to
/// the video part only (as diffusers' <c>CogVideoXAttnProcessor2_0</c> does) amounts to.
/// </summary>
/// <param name="Cos">(L + N, 1, head dim) float32 cosines.</param>
/// <param name="SinSigned">(L + N, 1, head dim) float32 sines, negated on the even channels.</param>
public sealed record CogVideoXRotary(Tensor Cos, Tensor SinSigned)
{
    /// <summary>
    /// Builds the tables from the pipeline's (N, head dim) <paramref name="cos"/> and <paramref name="sin"/> for a sequence
    /// of <paramref name="textLength"/> text tokens followed by N video tokens.
    /// </summary>
    public static CogVideoXRotary Prepare(Tensor cos, Tensor sin, long textLength, Device device)
    {
        if (cos.dim() != 2 || !cos.shape.SequenceEqual(sin.shape) || cos.shape[1] % 2 != 0)
            throw new ArgumentException($"Rotary tables must be two (tokens, head dim) tensors of one shape with an even head dim; " +
                                        $"got cos [{string.Join(", ", cos.shape)}] and sin [{string.Join(", ", sin.shape)}].");
        using var scope = NewDisposeScope();
        long d = cos.shape[1];
        var c = cos.to(ScalarType.Float32, device);
        var s = sin.to(ScalarType.Float32, device);
        // The rotated vector pairs (x0, x1) → (−x1, x0); with the pair swapped that is a sign on the even channels.
        // Made on the device (no copy from CPU memory), so a CUDA graph can capture it: -1 on even channels, +1 on odd.
        var sign = arange(d, ScalarType.Float32, device).remainder(2).mul(2).sub(1);
        var fullCos = cat([ones([textLength, d], ScalarType.Float32, device), c], 0).unsqueeze(1);
        var fullSin = cat([zeros([textLength, d], ScalarType.Float32, device), s * sign], 0).unsqueeze(1);
        return new CogVideoXRotary(fullCos.MoveToOuterDisposeScope(), fullSin.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Rotates (B, S, heads, head dim) queries or keys: x·cos + swap(x)·sin with the channel pairs swapped, in float32
    /// (diffusers' <c>apply_rotary_emb</c> also computes in float32), returned in <paramref name="x"/>'s dtype.
    /// </summary>
    public Tensor Apply(Tensor x)
    {
        using var scope = NewDisposeScope();
        var swapped = x.unflatten(x.dim() - 1, [x.shape[^1] / 2, 2]).flip(-1).flatten(-2);
        var rotated = x.to(ScalarType.Float32) * Cos + swapped.to(ScalarType.Float32) * SinSigned;
        return rotated.to(x.dtype).MoveToOuterDisposeScope();
    }
}
