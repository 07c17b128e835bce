using MotionTune.IO;
using OpenCvSharp;
using static TorchSharp.torch;

namespace MotionTune.Video;

/// <summary>
/// Reading and writing videos as (F, H, W, 3) RGB frame tensors.
/// Reads mp4 / webm / gif (and mov, mkv, avi, m4v) with OpenCV's VideoCapture, falling back to the system ffmpeg for
/// codecs OpenCV's build lacks (AV1), and folders of .png / .jpg frames. Writes H.264 mp4 and GIF through the system
/// ffmpeg, and PNG frame folders. Every write is atomic: the target is either untouched or complete.
/// </summary>
public static class VideoFile
{
    /// <summary>File extensions <see cref="Read"/> accepts (case-insensitive); a folder of frames is accepted too.</summary>
    public static IReadOnlyList<string> VideoExtensions { get; } = [".mp4", ".webm", ".gif", ".mov", ".mkv", ".avi", ".m4v"];

    /// <summary>
    /// Decodes a video file or a folder of frames into a <see cref="VideoClip"/> of (F, H, W, 3) <c>uint8</c> RGB frames,
    /// sampled to <see cref="VideoReadOptions.FrameCount"/> frames (<see cref="FrameSampling.EvenIndices"/>) and brought
    /// to <see cref="VideoReadOptions.Height"/> x <see cref="VideoReadOptions.Width"/> when those are set.
    /// A folder's frames are its .png / .jpg files in natural name order (frame2 before frame10).
    /// </summary>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    /// <exception cref="VideoFormatException">The file is empty, corrupt, or of an unsupported format.</exception>
    public static VideoClip Read(string path, VideoReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= VideoReadOptions.Default;
        options.Validate();
        OpenCvRuntime.EnsureAvailable($"reading {path}");
        if (Directory.Exists(path)) return FrameFolder.Read(path, options);
        if (!File.Exists(path)) throw new FileNotFoundException($"video not found: {path}", path);
        var extension = Path.GetExtension(path);
        if (!VideoExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
            throw new VideoFormatException(
                $"{path}: unsupported video format '{extension}'; readable are {string.Join(", ", VideoExtensions)} files and folders of {string.Join("/", FrameFolder.Extensions)} frames.");
        if (new FileInfo(path).Length == 0) throw new VideoFormatException($"{path}: the file is empty.");
        return OpenCvDecoder.TryRead(path, options) ?? FfmpegDecoder.Read(path, options);
    }

    /// <summary>Reads a video (see <see cref="Read"/>) as a (F, H, W, 3) <c>float32</c> tensor in [0, 1].</summary>
    public static Tensor ReadFloat(string path, VideoReadOptions? options = null)
    {
        using var clip = Read(path, options);
        return clip.ToFloat();
    }

    /// <summary>Writes <paramref name="clip"/> by the extension of <paramref name="path"/>: .mp4 (H.264) or .gif.</summary>
    public static void Write(string path, VideoClip clip) => Write(path, clip.Frames, clip.Fps);

    /// <summary>Writes (F, H, W, 3) RGB frames (<c>uint8</c>, or float in [0, 1]) by the extension of <paramref name="path"/>: .mp4 (H.264) or .gif.</summary>
    public static void Write(string path, Tensor frames, double fps)
    {
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".mp4": WriteMp4(path, frames, fps); break;
            case ".gif": WriteGif(path, frames, fps); break;
            default:
                throw new VideoFormatException($"{path}: cannot write '{Path.GetExtension(path)}'; use .mp4 or .gif, or {nameof(WriteFrames)} for a folder of PNG frames.");
        }
    }

    /// <summary>
    /// Encodes H.264 in mp4 (libx264, yuv420p, +faststart) at <paramref name="crf"/> (0 lossless luma .. 51; 18 is
    /// visually near-lossless). yuv420p needs even sizes: an odd height or width is padded by repeating the last row or
    /// column, so the file is one pixel larger there.
    /// </summary>
    public static void WriteMp4(string path, Tensor frames, double fps, int crf = 18)
    {
        if (crf is < 0 or > 51) throw new ArgumentOutOfRangeException(nameof(crf), crf, "libx264's CRF ranges over 0..51.");
        CheckFps(fps);
        using var scope = NewDisposeScope();
        VideoEncoder.WriteMp4(path, FrameTensors.ToUInt8Frames(frames, path), fps, crf);
    }

    /// <summary>Encodes a looping GIF with a palette generated from the whole clip (ffmpeg palettegen / paletteuse). GIF stores frame delays in 1/100 s, so the rate is rounded.</summary>
    public static void WriteGif(string path, Tensor frames, double fps)
    {
        CheckFps(fps);
        using var scope = NewDisposeScope();
        VideoEncoder.WriteGif(path, FrameTensors.ToUInt8Frames(frames, path), fps);
    }

    /// <summary>
    /// Writes each frame as a PNG file <c>{prefix}{index:D5}.png</c> into <paramref name="folder"/>, replacing the folder's
    /// previous contents as a whole: the frames are written into a temporary sibling folder that is swapped in at the end.
    /// </summary>
    public static void WriteFrames(string folder, Tensor frames, string prefix = "frame_")
    {
        if (prefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) throw new ArgumentException($"frame prefix '{prefix}' is not a valid file name part.", nameof(prefix));
        OpenCvRuntime.EnsureAvailable($"writing frames to {folder}");
        using var scope = NewDisposeScope();
        var rgb = FrameTensors.ToUInt8Frames(frames, folder);
        var full = Path.GetFullPath(folder.TrimEnd(Path.DirectorySeparatorChar));
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var old = tmp + ".old";
        try
        {
            Directory.CreateDirectory(tmp);
            for (int i = 0; i < rgb.shape[0]; i++)
            {
                using var bgr = FrameTensors.ToBgrMat(rgb, i);
                var file = Path.Combine(tmp, $"{prefix}{i:D5}.png");
                if (!Cv2.ImWrite(file, bgr)) throw new VideoFormatException($"{folder}: could not write frame {i} as PNG.");
            }
            if (Directory.Exists(full)) Directory.Move(full, old);
            Directory.Move(tmp, full);
        }
        catch
        {
            if (!Directory.Exists(full) && Directory.Exists(old)) Directory.Move(old, full);
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    private static void CheckFps(double fps)
    {
        if (!(fps > 0) || double.IsInfinity(fps)) throw new ArgumentOutOfRangeException(nameof(fps), fps, "frames per second must be positive and finite.");
    }
}
