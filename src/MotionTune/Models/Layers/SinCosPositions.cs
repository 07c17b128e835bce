using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// Fixed sine-cosine position tables as diffusers computes them (<c>get_1d_sincos_pos_embed_from_grid</c>,
/// <c>get_2d_sincos_pos_embed</c>): float64 arithmetic, returned as float32 on the CPU.
/// </summary>
public static class SinCosPositions
{
    /// <summary>
    /// (M) positions → (M, dim): [sin(p·ω), cos(p·ω)] with ω_i = 10000^(−i / (dim/2)), i = 0..dim/2−1.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dim"/> is odd.</exception>
    public static Tensor OneD(long dim, Tensor positions)
    {
        if (dim % 2 != 0) throw new ArgumentException($"Sin-cos positions need an even width, got {dim}.");
        using var scope = NewDisposeScope();
        var omega = 1.0 / pow(10000.0, arange(dim / 2, ScalarType.Float64) / (dim / 2.0));
        var angles = outer(positions.reshape(-1).to(ScalarType.Float64, CPU), omega);
        return cat([angles.sin(), angles.cos()], 1).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>(M) positions 0..length−1 → (length, dim).</summary>
    public static Tensor OneD(long dim, long length)
    {
        using var positions = arange(length, ScalarType.Int64);
        return OneD(dim, positions);
    }

    /// <summary>
    /// Positions of a (rows × cols) patch grid, row-major → (rows·cols, dim). Coordinates are
    /// index / (size / <paramref name="baseSize"/>) / <paramref name="interpolationScale"/> (in float32, as diffusers);
    /// the first half of the width encodes the column, the second half the row (diffusers' meshgrid puts w first).
    /// </summary>
    public static Tensor TwoD(long dim, long rows, long cols, double baseSize, double interpolationScale)
    {
        if (dim % 2 != 0) throw new ArgumentException($"2D sin-cos positions need an even width, got {dim}.");
        using var scope = NewDisposeScope();
        var rowCoord = arange(rows, ScalarType.Float32) / (rows / baseSize) / interpolationScale;
        var colCoord = arange(cols, ScalarType.Float32) / (cols / baseSize) / interpolationScale;
        var colOfToken = colCoord.unsqueeze(0).expand(rows, cols);
        var rowOfToken = rowCoord.unsqueeze(1).expand(rows, cols);
        return cat([OneD(dim / 2, colOfToken), OneD(dim / 2, rowOfToken)], 1).MoveToOuterDisposeScope();
    }
}
