using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Video;

/// <summary>Conversions between frame tensors and OpenCV images, and the frame tensor shape checks.</summary>
internal static class FrameTensors
{
    /// <summary>
    /// Checks that <paramref name="frames"/> is (F, H, W, 3) with F, H, W ≥ 1, and returns it as a contiguous CPU
    /// <c>uint8</c> tensor: the same tensor when it already is one, else a new one (floats are read as [0, 1],
    /// clamped and rounded to 0..255).
    /// </summary>
    public static Tensor ToUInt8Frames(Tensor frames, string what)
    {
        if (frames.dim() != 4 || frames.shape[3] != 3 || frames.shape[0] < 1 || frames.shape[1] < 1 || frames.shape[2] < 1)
            throw new ArgumentException($"{what}: expected frames of shape (F, H, W, 3) with F, H, W >= 1, got [{string.Join(", ", frames.shape)}].");
        if (frames.dtype == ScalarType.Byte && frames.device_type == DeviceType.CPU && frames.is_contiguous()) return frames;
        using var scope = NewDisposeScope();
        Tensor result;
        if (frames.dtype == ScalarType.Byte) result = frames.cpu().contiguous();
        else if (frames.is_floating_point()) result = frames.detach().to(ScalarType.Float32).cpu().clamp(0, 1).mul(255).round().to(ScalarType.Byte).contiguous();
        else throw new ArgumentException($"{what}: frames must be uint8 (0..255) or floating point (0..1), got {frames.dtype}.");
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Copies a continuous 8-bit 3-channel BGR image into RGB frame <paramref name="index"/> of <paramref name="frames"/>.</summary>
    public static unsafe void CopyBgrInto(Mat bgr, Tensor frames, int index)
    {
        using var rgb = new Mat();
        Cv2.CvtColor(bgr, rgb, ColorConversionCodes.BGR2RGB);
        using var frame = frames[index];
        var dst = frame.bytes;
        long count = (long)rgb.Rows * rgb.Cols * 3;
        if (!rgb.IsContinuous() || count != dst.Length)
            throw new InvalidOperationException($"frame of {rgb.Cols}x{rgb.Rows} does not fit the {frame.shape[1]}x{frame.shape[0]} frame buffer.");
        fixed (byte* d = dst) Buffer.MemoryCopy(rgb.DataPointer, d, count, count);
    }

    /// <summary>A BGR copy of frame <paramref name="index"/> of contiguous CPU <c>uint8</c> (F, H, W, 3) RGB frames.</summary>
    public static Mat ToBgrMat(Tensor frames, int index)
    {
        using var frame = frames[index];
        using var rgb = WrapRgb(frame);
        var bgr = new Mat();
        Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
        return bgr;
    }

    /// <summary>A grayscale copy (OpenCV's RGB2GRAY: 0.299 R + 0.587 G + 0.114 B) of frame <paramref name="index"/>.</summary>
    public static Mat ToGrayMat(Tensor frames, int index)
    {
        using var frame = frames[index];
        using var rgb = WrapRgb(frame);
        var gray = new Mat();
        Cv2.CvtColor(rgb, gray, ColorConversionCodes.RGB2GRAY);
        return gray;
    }

    /// <summary>A Mat header over one contiguous (H, W, 3) uint8 frame's memory; valid only while the tensor lives.</summary>
    private static unsafe Mat WrapRgb(Tensor frame)
    {
        var span = frame.bytes;
        fixed (byte* p = span)
            return Mat.FromPixelData((int)frame.shape[0], (int)frame.shape[1], MatType.CV_8UC3, (IntPtr)p, frame.shape[1] * 3);
    }
}
