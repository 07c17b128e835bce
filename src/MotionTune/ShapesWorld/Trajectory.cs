namespace MotionTune.ShapesWorld;

/// <summary>Where the object is at one moment.</summary>
/// <param name="X">Centre, as a fraction of the frame width from the left edge.</param>
/// <param name="Y">Centre, as a fraction of the frame height from the top edge.</param>
/// <param name="Scale">Size multiplier (1 = the render settings' object size).</param>
/// <param name="Rotation">Rotation in degrees, clockwise on screen.</param>
public readonly record struct Pose(double X, double Y, double Scale = 1, double Rotation = 0);

/// <summary>The object's pose in each frame of a clip.</summary>
public sealed record Trajectory(IReadOnlyList<Pose> Poses)
{
    /// <summary>Number of frames.</summary>
    public int Frames => Poses.Count;

    /// <summary>
    /// Samples a motion defined for time t in [0, 1] at <paramref name="frames"/> frames: frame i is at
    /// t = i / (frames - 1), so the first frame shows the start and the last the end.
    /// </summary>
    public static Trajectory Sample(int frames, Func<double, Pose> poseAt)
    {
        if (frames < 1) throw new ArgumentOutOfRangeException(nameof(frames), frames, "a clip needs at least one frame.");
        var poses = new Pose[frames];
        for (int i = 0; i < frames; i++) poses[i] = poseAt(frames == 1 ? 0 : i / (double)(frames - 1));
        return new Trajectory(poses);
    }

    /// <summary>The centre positions, (x, y) per frame in frame fractions.</summary>
    public (double X, double Y)[] Centres() => Poses.Select(p => (p.X, p.Y)).ToArray();
}

/// <summary>A motion: a named rule that gives a trajectory for a number of frames.</summary>
public abstract class Motion
{
    /// <summary>The motion's id (<c>left</c>, <c>clockwise</c>, <c>figure-eight</c>).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// A trajectory of <paramref name="frames"/> frames. Library motions draw their free parameters (extent, start,
    /// phase) from <paramref name="random"/>; custom motions are fixed and ignore it.
    /// </summary>
    public abstract Trajectory Sample(int frames, Random random);

    /// <inheritdoc />
    public override string ToString() => Name;
}
