namespace MotionTune.ShapesWorld.Metrics;

/// <summary>
/// An object's centroid per frame, in frame fractions (x of the width from the left, y of the height from the top);
/// NaN in frames where no object was seen.
/// </summary>
/// <param name="X">Horizontal positions.</param>
/// <param name="Y">Vertical positions.</param>
public sealed record MotionPath(double[] X, double[] Y)
{
    /// <summary>Number of frames.</summary>
    public int Frames => X.Length;

    /// <summary>Whether frame <paramref name="i"/> has a position.</summary>
    public bool Has(int i) => !double.IsNaN(X[i]) && !double.IsNaN(Y[i]);

    /// <summary>The path of a trajectory's centres (what a perfect reading of its rendering gives).</summary>
    public static MotionPath Of(Trajectory trajectory) =>
        new(trajectory.Poses.Select(p => p.X).ToArray(), trajectory.Poses.Select(p => p.Y).ToArray());
}

/// <summary>How closely a path follows a reference path.</summary>
/// <param name="DisplacementCosine">Agreement of per-frame motion directions, in [−1, 1] (1 = same directions).</param>
/// <param name="TrajectoryDistance">Mean distance between the centred paths in frame fractions, ≥ 0 (0 = same path shape).</param>
/// <param name="Frames">Frames in which both paths have a position.</param>
public sealed record MotionFidelity(double DisplacementCosine, double TrajectoryDistance, int Frames);

/// <summary>
/// Motion metrics on centroid paths.
/// <para>
/// Displacement cosine of path a against reference b (same frame count): for each step i → i + 1 where both paths
/// have both frames, u = a(i + 1) − a(i) and v = b(i + 1) − b(i), and the step scores
/// u · v / (|u| |v|) when |u|, |v| ≥ ε; 1 when both are below ε (both still); 0 when exactly one is (motion against
/// stillness: neither agreement nor opposition). ε = <see cref="StillThreshold"/> frame fractions per frame, above the
/// centroid jitter of generated frames. The metric is the mean over steps (NaN without any): 1 for the same motion,
/// −1 for the reversed one; it ignores speed along the same directions and where the path lies.
/// </para>
/// <para>
/// Trajectory distance of a and b: over the frames where both have a position, each path minus its mean position
/// there, then the mean Euclidean distance between the two per frame, in frame fractions (NaN with no common
/// frame). It is 0 for the same path shape at any place, and grows with differences of shape, extent and timing.
/// </para>
/// </summary>
public static class MotionMetrics
{
    /// <summary>Per-frame displacement (frame fractions) below which the object counts as still: 0.01, a quarter pixel at 24 pixels.</summary>
    public const double StillThreshold = 0.01;

    /// <summary>Fidelity of <paramref name="path"/> to <paramref name="reference"/>.</summary>
    /// <exception cref="ArgumentException">Different frame counts.</exception>
    public static MotionFidelity Fidelity(MotionPath path, MotionPath reference)
    {
        CheckLengths(path, reference);
        int common = Enumerable.Range(0, path.Frames).Count(i => path.Has(i) && reference.Has(i));
        return new MotionFidelity(DisplacementCosine(path, reference), TrajectoryDistance(path, reference), common);
    }

    /// <summary>The displacement cosine (see <see cref="MotionMetrics"/>).</summary>
    public static double DisplacementCosine(MotionPath path, MotionPath reference)
    {
        CheckLengths(path, reference);
        double sum = 0;
        int steps = 0;
        for (int i = 0; i + 1 < path.Frames; i++)
        {
            if (!(path.Has(i) && path.Has(i + 1) && reference.Has(i) && reference.Has(i + 1))) continue;
            double ux = path.X[i + 1] - path.X[i], uy = path.Y[i + 1] - path.Y[i];
            double vx = reference.X[i + 1] - reference.X[i], vy = reference.Y[i + 1] - reference.Y[i];
            double nu = Math.Sqrt(ux * ux + uy * uy), nv = Math.Sqrt(vx * vx + vy * vy);
            bool stillU = nu < StillThreshold, stillV = nv < StillThreshold;
            sum += stillU && stillV ? 1 : stillU || stillV ? 0 : (ux * vx + uy * vy) / (nu * nv);
            steps++;
        }
        return steps == 0 ? double.NaN : sum / steps;
    }

    /// <summary>The trajectory distance (see <see cref="MotionMetrics"/>).</summary>
    public static double TrajectoryDistance(MotionPath a, MotionPath b)
    {
        CheckLengths(a, b);
        int n = 0;
        double ax = 0, ay = 0, bx = 0, by = 0;
        for (int i = 0; i < a.Frames; i++)
        {
            if (!a.Has(i) || !b.Has(i)) continue;
            ax += a.X[i]; ay += a.Y[i]; bx += b.X[i]; by += b.Y[i];
            n++;
        }
        if (n == 0) return double.NaN;
        ax /= n; ay /= n; bx /= n; by /= n;
        double sum = 0;
        for (int i = 0; i < a.Frames; i++)
        {
            if (!a.Has(i) || !b.Has(i)) continue;
            double dx = a.X[i] - ax - (b.X[i] - bx), dy = a.Y[i] - ay - (b.Y[i] - by);
            sum += Math.Sqrt(dx * dx + dy * dy);
        }
        return sum / n;
    }

    /// <summary>
    /// Motion diversity of samples of one prompt (different seeds): the mean trajectory distance over all pairs.
    /// 0 when every sample moves identically (a memorised motion).
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two paths.</exception>
    public static double Diversity(IReadOnlyList<MotionPath> samples)
    {
        if (samples.Count < 2) throw new ArgumentException($"Diversity needs at least two samples, got {samples.Count}.", nameof(samples));
        var distances = new List<double>();
        for (int i = 0; i < samples.Count; i++)
            for (int j = i + 1; j < samples.Count; j++)
                distances.Add(TrajectoryDistance(samples[i], samples[j]));
        var valid = distances.Where(d => !double.IsNaN(d)).ToArray();
        return valid.Length == 0 ? double.NaN : valid.Average();
    }

    private static void CheckLengths(MotionPath a, MotionPath b)
    {
        if (a.Frames != b.Frames) throw new ArgumentException($"Paths of {a.Frames} and {b.Frames} frames cannot be compared.");
    }
}
