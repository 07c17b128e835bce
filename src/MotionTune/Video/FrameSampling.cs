namespace MotionTune.Video;

/// <summary>Which source frames a clip of a given length takes.</summary>
public static class FrameSampling
{
    /// <summary>
    /// <paramref name="count"/> frame indices spread evenly over <paramref name="total"/> frames, first and last frame
    /// included: index i (0 ≤ i &lt; N) is round(i · (T − 1) / (N − 1)), rounding halves up, i.e. the rounded
    /// <c>linspace(0, T − 1, N)</c>. N = 1 takes frame 0; N = T takes every frame. Indices strictly increase, so no
    /// frame repeats; asking for more frames than there are is an error.
    /// </summary>
    /// <param name="total">Frames in the source, T ≥ 1.</param>
    /// <param name="count">Frames wanted, 1 ≤ N ≤ T.</param>
    public static int[] EvenIndices(int total, int count)
    {
        if (total < 1) throw new ArgumentOutOfRangeException(nameof(total), total, "the source has no frames.");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "at least one frame must be sampled.");
        if (count > total)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"cannot sample {count} distinct frames from {total}.");
        if (count == 1) return [0];
        var indices = new int[count];
        long span = total - 1, steps = count - 1;
        // Exact integer form of floor(i * span / steps + 1/2).
        for (int i = 0; i < count; i++) indices[i] = (int)((2 * i * span + steps) / (2 * steps));
        return indices;
    }

    /// <summary>
    /// The rate at which <paramref name="count"/> evenly sampled frames play at the source's speed: the first and last
    /// sampled frames are (T − 1) / fps seconds apart and N − 1 intervals span them, so fps · (N − 1) / (T − 1).
    /// One frame (or one source frame) keeps the source rate.
    /// </summary>
    public static double SampledFps(double sourceFps, int total, int count) =>
        count <= 1 || total <= 1 ? sourceFps : sourceFps * (count - 1) / (total - 1);
}
