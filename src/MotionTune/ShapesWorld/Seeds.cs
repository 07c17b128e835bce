namespace MotionTune.ShapesWorld;

/// <summary>
/// Derives independent, reproducible seeds for <see cref="Random"/> from a base seed and indices (SplitMix64 steps).
/// <see cref="HashCode"/> is not used because it is randomised per process.
/// </summary>
internal static class Seeds
{
    /// <summary>A non-negative seed that depends on every part and on their order.</summary>
    public static int Mix(params int[] parts)
    {
        ulong state = 0x9E3779B97F4A7C15UL;
        foreach (var part in parts) state = Step(state ^ (uint)part);
        return (int)(state >> 33);
    }

    /// <summary>A stable number for a string (FNV-1a over its UTF-16 code units), for seeding by name.</summary>
    public static int Of(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text) hash = (hash ^ c) * 16777619;
        return (int)(hash & 0x7FFFFFFF);
    }

    private static ulong Step(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
