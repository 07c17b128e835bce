using static TorchSharp.torch;

namespace MotionTune.Tests.Video;

/// <summary>Small generated videos for tests.</summary>
internal static class SyntheticVideo
{
    /// <summary>(F, H, W, 3) uint8 frames: the left half is <c>left(i)</c>, the right half <c>right(i)</c> in frame i.</summary>
    public static Tensor TwoColour(int frames, int height, int width, Func<int, byte[]> left, Func<int, byte[]> right)
    {
        var data = new byte[frames * height * width * 3];
        for (int f = 0; f < frames; f++)
        {
            var (l, r) = (left(f), right(f));
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    var c = x < width / 2 ? l : r;
                    int o = ((f * height + y) * width + x) * 3;
                    data[o] = c[0];
                    data[o + 1] = c[1];
                    data[o + 2] = c[2];
                }
        }
        return tensor(data, [frames, height, width, 3]);
    }

    /// <summary>
    /// A smooth 2D texture in [0, 1] translated by (<paramref name="dx"/>, <paramref name="dy"/>) pixels per frame:
    /// (F, H, W) float64, evaluated exactly at the shifted positions (no resampling).
    /// </summary>
    public static Tensor Texture(int frames, int height, int width, double dx, double dy)
    {
        var t = arange(frames, dtype: ScalarType.Float64).view(frames, 1, 1);
        var y = arange(height, dtype: ScalarType.Float64).view(1, height, 1) - dy * t;
        var x = arange(width, dtype: ScalarType.Float64).view(1, 1, width) - dx * t;
        const double Tau = 2 * Math.PI;
        var value = 0.5
            + 0.15 * sin(Tau * (x / 17.0 + 0.1))
            + 0.15 * sin(Tau * (y / 13.0 + 0.3))
            + 0.10 * sin(Tau * ((x + y) / 23.0))
            + 0.08 * cos(Tau * ((x - 2 * y) / 29.0));
        return value.clamp(0, 1);
    }

    /// <summary>A grey (F, H, W, 3) uint8 video of <see cref="Texture"/>.</summary>
    public static Tensor GreyTexture(int frames, int height, int width, double dx, double dy) =>
        ToRgb(Texture(frames, height, width, dx, dy), v => (v, v, v));

    /// <summary>(F, H, W, 3) uint8 from a texture, each channel a function of the value in [0, 1].</summary>
    public static Tensor ToRgb(Tensor texture, Func<Tensor, (Tensor R, Tensor G, Tensor B)> colour)
    {
        using var scope = NewDisposeScope();
        var (r, g, b) = colour(texture);
        return stack([r, g, b], dim: -1).mul(255).round().clamp(0, 255).to(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
