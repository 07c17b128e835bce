namespace MotionTune.Models.Vision;

/// <summary>PIL's resampling filters (<c>PIL.Image.Resampling</c> values, as <c>preprocessor_config.json</c> stores them).</summary>
public enum PilFilter
{
    /// <summary>Box filter (4).</summary>
    Box = 4,
    /// <summary>Triangle filter (2).</summary>
    Bilinear = 2,
    /// <summary>Hamming-windowed sinc (5).</summary>
    Hamming = 5,
    /// <summary>Keys cubic with a = -0.5 (3).</summary>
    Bicubic = 3,
    /// <summary>Lanczos, three lobes (1).</summary>
    Lanczos = 1,
}

/// <summary>
/// A port of Pillow's 8-bit resampling (<c>libImaging/Resample.c</c>), so resized pixels equal PIL's exactly: a
/// separable convolution whose filter is widened by the downscale factor (antialiasing), coefficients normalised per
/// output pixel and turned into 22-bit fixed point, the horizontal pass first, each pass rounded and clipped to 8 bits.
/// </summary>
public static class PilResample
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>
    /// Resizes an interleaved (height, width, channels) uint8 image to (<paramref name="outHeight"/>,
    /// <paramref name="outWidth"/>) as <c>PIL.Image.resize((outWidth, outHeight), filter)</c> does.
    /// </summary>
    public static byte[] Resize(byte[] pixels, int height, int width, int channels, int outHeight, int outWidth, PilFilter filter)
    {
        if (pixels.Length != height * width * channels)
            throw new ArgumentException($"PilResample: {pixels.Length} bytes do not hold a {height}x{width}x{channels} image.");
        if (outHeight <= 0 || outWidth <= 0) throw new ArgumentOutOfRangeException(nameof(outHeight), $"output size {outHeight}x{outWidth} must be positive.");
        if (outHeight == height && outWidth == width) return (byte[])pixels.Clone();

        var (filterFn, support) = Filter(filter);
        var vertical = Coefficients(height, outHeight, filterFn, support);
        byte[] source = pixels;
        int rows = height, firstRow = 0;

        if (outWidth != width)
        {
            // Only the rows the vertical pass reads are resampled horizontally.
            firstRow = vertical.Bounds[0];
            int lastRow = vertical.Bounds[(outHeight - 1) * 2] + vertical.Bounds[(outHeight - 1) * 2 + 1];
            if (outHeight == height) (firstRow, lastRow) = (0, height);
            rows = lastRow - firstRow;
            source = Horizontal(pixels, width, channels, firstRow, rows, Coefficients(width, outWidth, filterFn, support), outWidth);
        }
        if (outHeight == height) return source;
        int w = outWidth != width ? outWidth : width;
        return Vertical(source, w, channels, firstRow, vertical, outHeight);
    }

    private sealed record Kernel(int Size, int[] Bounds, int[] Weights);

    /// <summary>precompute_coeffs + normalize_coeffs_8bpc for one axis.</summary>
    private static Kernel Coefficients(int inSize, int outSize, Func<double, double> filter, double filterSupport)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterSupport * filterScale;
        int size = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * size];
        var k = new double[size];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ww = 0.0, ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            for (int x = 0; x < xmax; x++)
            {
                double w = filter((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < size; x++)
            {
                double normalized = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
                // Round half away from zero into fixed point, as (int)(±0.5 + v·2^22).
                weights[xx * size + x] = normalized < 0
                    ? (int)(-0.5 + normalized * (1 << PrecisionBits))
                    : (int)(0.5 + normalized * (1 << PrecisionBits));
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return new Kernel(size, bounds, weights);
    }

    private static byte[] Horizontal(byte[] input, int width, int channels, int firstRow, int rows, Kernel kernel, int outWidth)
    {
        var output = new byte[rows * outWidth * channels];
        Parallel.For(0, rows, y =>
        {
            int inRow = (y + firstRow) * width * channels, outRow = y * outWidth * channels;
            for (int xx = 0; xx < outWidth; xx++)
            {
                int xmin = kernel.Bounds[xx * 2], count = kernel.Bounds[xx * 2 + 1], k = xx * kernel.Size;
                for (int c = 0; c < channels; c++)
                {
                    int sum = 1 << (PrecisionBits - 1);
                    for (int x = 0; x < count; x++) sum += input[inRow + (x + xmin) * channels + c] * kernel.Weights[k + x];
                    output[outRow + xx * channels + c] = Clip8(sum);
                }
            }
        });
        return output;
    }

    private static byte[] Vertical(byte[] input, int width, int channels, int firstRow, Kernel kernel, int outHeight)
    {
        var output = new byte[outHeight * width * channels];
        int stride = width * channels;
        Parallel.For(0, outHeight, yy =>
        {
            int ymin = kernel.Bounds[yy * 2] - firstRow, count = kernel.Bounds[yy * 2 + 1], k = yy * kernel.Size;
            for (int i = 0; i < stride; i++)
            {
                int sum = 1 << (PrecisionBits - 1);
                for (int y = 0; y < count; y++) sum += input[(y + ymin) * stride + i] * kernel.Weights[k + y];
                output[yy * stride + i] = Clip8(sum);
            }
        });
        return output;
    }

    private static byte Clip8(int value)
    {
        int v = value >> PrecisionBits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }

    private static (Func<double, double> Filter, double Support) Filter(PilFilter filter) => filter switch
    {
        PilFilter.Box => (x => x > -0.5 && x <= 0.5 ? 1.0 : 0.0, 0.5),
        PilFilter.Bilinear => (x => Math.Abs(x) < 1.0 ? 1.0 - Math.Abs(x) : 0.0, 1.0),
        PilFilter.Hamming => (Hamming, 1.0),
        PilFilter.Bicubic => (Bicubic, 2.0),
        PilFilter.Lanczos => (x => -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0, 3.0),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), $"PIL resampling filter {(int)filter} is not supported (nearest has no filter)."),
    };

    private static double Bicubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    private static double Hamming(double x)
    {
        x = Math.Abs(x);
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x *= Math.PI;
        return Math.Sin(x) / x * (0.54f + 0.46f * Math.Cos(x));
    }

    private static double Sinc(double x)
    {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.Sin(x) / x;
    }
}
