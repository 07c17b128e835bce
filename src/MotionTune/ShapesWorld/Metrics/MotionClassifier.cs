using System.Collections.Concurrent;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>A path's nearest library motion class.</summary>
/// <param name="Motion">The class name (<see cref="MotionLibrary"/>), or null when the path has too few positions.</param>
/// <param name="Distance">Trajectory distance to the nearest example of that class.</param>
/// <param name="Margin">How much farther the nearest example of any other class is (larger = clearer).</param>
public sealed record MotionClassification(string? Motion, double Distance, double Margin);

/// <summary>
/// Classifies centroid paths into the library's motion classes, for the base models' quality gate ("the motion class
/// of a generated clip is the caption's"). Nearest neighbour: each class is represented by
/// <see cref="ExamplesPerClass"/> paths drawn from its parameter ranges with a fixed seed, exactly as the training data
/// draws them, and a path takes the class of the example at the smallest <see cref="MotionMetrics.TrajectoryDistance"/>
/// (centred paths, so the place in the frame does not matter, while direction, extent, shape and timing do).
/// </summary>
public static class MotionClassifier
{
    /// <summary>Examples drawn per class.</summary>
    public const int ExamplesPerClass = 64;

    private static readonly ConcurrentDictionary<int, (MotionPath Path, int Class)[]> Examples = new();

    /// <summary>Classifies <paramref name="path"/>; at least half its frames must have a position.</summary>
    public static MotionClassification Classify(MotionPath path)
    {
        int seen = Enumerable.Range(0, path.Frames).Count(path.Has);
        if (path.Frames < 2 || seen * 2 < path.Frames) return new MotionClassification(null, double.NaN, 0);
        var nearest = new double[MotionLibrary.All.Count];
        Array.Fill(nearest, double.PositiveInfinity);
        foreach (var (example, c) in ExamplesFor(path.Frames))
            nearest[c] = Math.Min(nearest[c], MotionMetrics.TrajectoryDistance(path, example));
        int best = Array.IndexOf(nearest, nearest.Min());
        double runnerUp = nearest.Where((_, c) => c != best).Min();
        return new MotionClassification(MotionLibrary.All[best].Name, nearest[best], runnerUp - nearest[best]);
    }

    private static (MotionPath, int)[] ExamplesFor(int frames) => Examples.GetOrAdd(frames, _ =>
        MotionLibrary.All.SelectMany((motion, c) => Enumerable.Range(0, ExamplesPerClass).Select(k =>
            (MotionPath.Of(motion.Sample(frames, new Random(Seeds.Mix(7919, c, k)))), c))).ToArray());
}
