using OpenCvSharp;

namespace MotionTune.Video;

/// <summary>Resizing and centre cropping of single frames.</summary>
public static class FrameGeometry
{
    /// <summary>
    /// Brings <paramref name="frame"/> to <paramref name="height"/> x <paramref name="width"/> (a new Mat).
    /// Scaling uses area averaging when shrinking (no aliasing) and bilinear interpolation when enlarging.
    /// <see cref="ResizeMode.CoverAndCenterCrop"/> scales by max(H / h, W / w), each scaled side rounded to the nearest
    /// pixel but never below the target, then crops; a crop starts at floor((size − target) / 2).
    /// </summary>
    public static Mat Fit(Mat frame, int height, int width, ResizeMode mode, string source = "frame")
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"target size {width}x{height} must be positive.");
        int h = frame.Rows, w = frame.Cols;
        switch (mode)
        {
            case ResizeMode.Stretch:
                return Scale(frame, height, width);
            case ResizeMode.CenterCropOnly:
                if (h < height || w < width)
                    throw new ArgumentException($"{source}: a {w}x{h} frame is smaller than the {width}x{height} crop; use {nameof(ResizeMode.CoverAndCenterCrop)} to scale it up.");
                return CenterCrop(frame, height, width);
            case ResizeMode.CoverAndCenterCrop:
                double scale = Math.Max((double)height / h, (double)width / w);
                int sh = Math.Max(height, (int)Math.Round(h * scale)), sw = Math.Max(width, (int)Math.Round(w * scale));
                if (sh == h && sw == w) return CenterCrop(frame, height, width);
                using (var scaled = Scale(frame, sh, sw)) return CenterCrop(scaled, height, width);
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown resize mode.");
        }
    }

    /// <summary>A copy of the centre <paramref name="height"/> x <paramref name="width"/> region; the frame must be at least that large.</summary>
    public static Mat CenterCrop(Mat frame, int height, int width)
    {
        int top = (frame.Rows - height) / 2, left = (frame.Cols - width) / 2;
        using var view = new Mat(frame, new Rect(left, top, width, height));
        return view.Clone();
    }

    private static Mat Scale(Mat frame, int height, int width)
    {
        var result = new Mat();
        if (frame.Rows == height && frame.Cols == width) { frame.CopyTo(result); return result; }
        bool shrinking = height <= frame.Rows && width <= frame.Cols;
        Cv2.Resize(frame, result, new Size(width, height), 0, 0, shrinking ? InterpolationFlags.Area : InterpolationFlags.Linear);
        return result;
    }
}
