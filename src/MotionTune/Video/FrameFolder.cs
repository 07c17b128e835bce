using OpenCvSharp;

namespace MotionTune.Video;

/// <summary>Reads and writes videos stored as a folder of image files, one frame per file.</summary>
internal static class FrameFolder
{
    /// <summary>Extensions read as frames (case-insensitive); other files in the folder are ignored.</summary>
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    /// <summary>
    /// The frame files of <paramref name="folder"/> in natural order: runs of digits compare as numbers, so
    /// <c>frame2.png</c> comes before <c>frame10.png</c>; ties fall back to ordinal order.
    /// </summary>
    public static string[] FrameFiles(string folder) =>
        Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(NaturalComparer.Instance)
            .ToArray();

    /// <summary>Reads the frames of <paramref name="folder"/>, sampled and fitted as <paramref name="options"/> say.</summary>
    public static VideoClip Read(string folder, VideoReadOptions options, string? describe = null)
    {
        var source = describe ?? folder;
        var files = FrameFiles(folder);
        if (files.Length == 0)
            throw new VideoFormatException($"{source}: the folder holds no frames ({string.Join(", ", Extensions)} files).");
        int total = files.Length;
        int[] indices;
        if (options.FrameCount is int wanted)
        {
            if (wanted > total) throw new ArgumentException($"{source} has {total} frames; cannot sample {wanted}.");
            indices = FrameSampling.EvenIndices(total, wanted);
        }
        else indices = Enumerable.Range(0, total).ToArray();

        using var collector = new FrameCollector(source, options);
        Size? firstSize = null;
        foreach (var index in indices)
        {
            var file = files[index];
            using var image = Cv2.ImRead(file, ImreadModes.Color);
            if (image.Empty())
                throw new VideoFormatException($"{(describe is null ? file : source)}: not a readable image (frame {index}).");
            // Mixed sizes are an error even with a target size: they mean the folder mixes different videos.
            firstSize ??= image.Size();
            if (image.Size() != firstSize)
                throw new VideoFormatException($"{file}: frame {index} is {image.Cols}x{image.Rows} but the first frame is {firstSize.Value.Width}x{firstSize.Value.Height}.");
            collector.Add(image, index, describe is null ? file : source);
        }
        double fps = options.FrameCount is int n ? FrameSampling.SampledFps(options.FallbackFps, total, n) : options.FallbackFps;
        return collector.ToClip(fps, indices);
    }

    /// <summary>Orders names with their digit runs compared as numbers.</summary>
    private sealed class NaturalComparer : IComparer<string>
    {
        public static readonly NaturalComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            if (x is null || y is null) return string.CompareOrdinal(x, y);
            int i = 0, j = 0;
            while (i < x.Length && j < y.Length)
            {
                if (char.IsAsciiDigit(x[i]) && char.IsAsciiDigit(y[j]))
                {
                    int si = i, sj = j;
                    while (i < x.Length && char.IsAsciiDigit(x[i])) i++;
                    while (j < y.Length && char.IsAsciiDigit(y[j])) j++;
                    var a = x.AsSpan(si, i - si).TrimStart('0');
                    var b = y.AsSpan(sj, j - sj).TrimStart('0');
                    if (a.Length != b.Length) return a.Length.CompareTo(b.Length);
                    int c = a.SequenceCompareTo(b);
                    if (c != 0) return c;
                }
                else
                {
                    if (x[i] != y[j]) return x[i].CompareTo(y[j]);
                    i++;
                    j++;
                }
            }
            int rest = (x.Length - i).CompareTo(y.Length - j);
            return rest != 0 ? rest : string.CompareOrdinal(x, y);
        }
    }
}
