using System.Runtime.InteropServices;
using OpenCvSharp;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// Clips as folders of PNG frames (<c>00000.png</c>, <c>00001.png</c>, ...: the TGVE layout), through OpenCV.
/// Frames are (F, H, W, 3) <c>uint8</c> RGB tensors, as everywhere in MotionTune.
/// </summary>
public static class FrameFiles
{
    /// <summary>Writes <paramref name="frames"/> into <paramref name="folder"/> (created; existing frame files are overwritten).</summary>
    /// <exception cref="ArgumentException">Not (F, H, W, 3) <c>uint8</c> frames.</exception>
    public static void WritePngFolder(Tensor frames, string folder)
    {
        CheckFrames(frames, nameof(frames));
        Directory.CreateDirectory(folder);
        using var bgr = frames.flip(-1).contiguous().cpu();
        int count = (int)frames.shape[0], height = (int)frames.shape[1], width = (int)frames.shape[2];
        for (int i = 0; i < count; i++)
        {
            using var frame = bgr[i];
            var bytes = frame.data<byte>().ToArray();
            var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            try
            {
                using var image = Mat.FromPixelData(height, width, MatType.CV_8UC3, handle.AddrOfPinnedObject());
                var file = Path.Combine(folder, $"{i:D5}.png");
                if (!Cv2.ImWrite(file, image)) throw new IOException($"{file}: OpenCV could not write the frame.");
            }
            finally
            {
                handle.Free();
            }
        }
    }

    /// <summary>Reads the <c>*.png</c> frames of <paramref name="folder"/> in name order as (F, H, W, 3) <c>uint8</c> RGB.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder is missing.</exception>
    /// <exception cref="InvalidDataException">No frames, an unreadable frame, or frames of different sizes.</exception>
    public static Tensor ReadPngFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Frame folder not found: {folder}");
        var files = Directory.EnumerateFiles(folder, "*.png").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new InvalidDataException($"{folder}: holds no *.png frames.");
        var frames = new List<Tensor>();
        try
        {
            foreach (var file in files)
            {
                using var image = Cv2.ImRead(file, ImreadModes.Color);
                if (image.Empty() || image.Type() != MatType.CV_8UC3) throw new InvalidDataException($"{file}: not a readable 8-bit colour image.");
                if (frames.Count > 0 && (image.Rows != frames[0].shape[0] || image.Cols != frames[0].shape[1]))
                    throw new InvalidDataException($"{file}: is {image.Cols}x{image.Rows} but the first frame is {frames[0].shape[1]}x{frames[0].shape[0]}.");
                using var copy = image.IsContinuous() ? null : image.Clone();
                var bytes = new byte[image.Rows * image.Cols * 3];
                Marshal.Copy((copy ?? image).Data, bytes, 0, bytes.Length);
                using var bgr = tensor(bytes, [image.Rows, image.Cols, 3]);
                frames.Add(bgr.flip(-1));
            }
            return stack(frames);
        }
        finally
        {
            foreach (var f in frames) f.Dispose();
        }
    }

    internal static void CheckFrames(Tensor frames, string what)
    {
        if (frames.dim() != 4 || frames.shape[3] != 3 || frames.dtype != ScalarType.Byte)
            throw new ArgumentException($"{what}: expected (F, H, W, 3) uint8 RGB frames, got {frames.dtype} [{string.Join(", ", frames.shape)}].");
    }
}

/// <summary>Writes a folder in full or not at all: into a temporary sibling, renamed into place at the end.</summary>
internal static class StagedFolder
{
    /// <summary>
    /// Runs <paramref name="fill"/> on a temporary folder beside <paramref name="target"/>, then puts it in place.
    /// An existing non-empty target is an error unless <paramref name="overwrite"/>, when it is replaced.
    /// </summary>
    public static void Write(string target, bool overwrite, Action<string> fill)
    {
        var full = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        bool exists = Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any();
        if (exists && !overwrite) throw new IOException($"{full} already exists and is not empty; choose another folder or allow overwriting.");
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var name = Path.GetFileName(full);
        var staging = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(staging);
            fill(staging);
            if (Directory.Exists(full))
            {
                var old = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.old");
                Directory.Move(full, old);
                Directory.Move(staging, full);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(staging, full);
        }
        catch
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); } catch (IOException) { }
            throw;
        }
    }
}
