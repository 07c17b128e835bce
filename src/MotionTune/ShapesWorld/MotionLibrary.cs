namespace MotionTune.ShapesWorld;

/// <summary>
/// A motion class of the training library: a parametric path whose free parameters (extent, offset, phase) are drawn
/// per clip, so that a base model learns the class, not one path. Its <see cref="Phrase"/> names it in captions.
/// </summary>
public sealed class LibraryMotion : Motion
{
    private readonly Func<Random, Func<double, Pose>> _draw;

    internal LibraryMotion(string name, string phrase, Func<Random, Func<double, Pose>> draw)
    {
        Name = name;
        Phrase = phrase;
        _draw = draw;
    }

    /// <inheritdoc />
    public override string Name { get; }

    /// <summary>The caption words after the object (<c>moving left</c> in "a red circle moving left on ...").</summary>
    public string Phrase { get; }

    /// <inheritdoc />
    public override Trajectory Sample(int frames, Random random) => Trajectory.Sample(frames, _draw(random));
}

/// <summary>
/// The training library's motion classes. Paths keep the object's centre within about [0.2, 0.8] of the frame so the
/// object (0.18 of the frame side at scale 1) stays in view. Directions are on screen: y grows downwards.
/// </summary>
public static class MotionLibrary
{
    /// <summary>All library motions, in a fixed order (their index is their class id).</summary>
    public static readonly IReadOnlyList<LibraryMotion> All =
    [
        Line("left", "moving left", -1, 0),
        Line("right", "moving right", 1, 0),
        Line("up", "moving up", 0, -1),
        Line("down", "moving down", 0, 1),
        Line("up-left", "moving up and left", -1, -1),
        Line("up-right", "moving up and right", 1, -1),
        Line("down-left", "moving down and left", -1, 1),
        Line("down-right", "moving down and right", 1, 1),
        Circle("clockwise", "moving in a clockwise circle", 1),
        Circle("counterclockwise", "moving in a counterclockwise circle", -1),
        new("bouncing", "bouncing", Bouncing),
        new("zigzag", "zigzagging", Zigzag),
    ];

    /// <summary>The library motion named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Not a library motion.</exception>
    public static LibraryMotion Get(string name) =>
        All.FirstOrDefault(m => m.Name == name)
        ?? throw new ArgumentException($"Unknown library motion '{name}' (known: {string.Join(", ", All.Select(m => m.Name))}).");

    /// <summary>The library motion whose caption phrase is <paramref name="phrase"/>, or null.</summary>
    public static LibraryMotion? FromPhrase(string phrase) => All.FirstOrDefault(m => m.Phrase == phrase);

    private static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();

    /// <summary>A straight line at constant speed, length 0.35..0.5 along (dx, dy), shifted a little along and across.</summary>
    private static LibraryMotion Line(string name, string phrase, double dx, double dy) => new(name, phrase, random =>
    {
        double norm = Math.Sqrt(dx * dx + dy * dy), ux = dx / norm, uy = dy / norm;
        double length = Uniform(random, 0.35, 0.5);
        double along = Uniform(random, -1, 1) * (0.55 - length) / 2, across = Uniform(random, -0.06, 0.06);
        double cx = 0.5 + ux * along - uy * across, cy = 0.5 + uy * along + ux * across;
        return t => new Pose(cx + ux * length * (t - 0.5), cy + uy * length * (t - 0.5));
    });

    /// <summary>One full turn at constant speed, radius 0.15..0.22, from a random angle; direction +1 is clockwise on screen.</summary>
    private static LibraryMotion Circle(string name, string phrase, int direction) => new(name, phrase, random =>
    {
        double cx = 0.5 + Uniform(random, -0.05, 0.05), cy = 0.5 + Uniform(random, -0.05, 0.05);
        double radius = Uniform(random, 0.15, 0.22), phase = Uniform(random, 0, 2 * Math.PI);
        return t =>
        {
            double a = phase + direction * 2 * Math.PI * t; // a = 0 is straight up; growing a turns clockwise (y down)
            return new Pose(cx + radius * Math.Sin(a), cy - radius * Math.Cos(a));
        };
    });

    /// <summary>Two bounces in place: up from the floor and back, |sin| shaped (fast at the floor, slow at the top).</summary>
    private static Func<double, Pose> Bouncing(Random random)
    {
        double x = 0.5 + Uniform(random, -0.1, 0.1), floor = Uniform(random, 0.68, 0.75), height = Uniform(random, 0.3, 0.42);
        return t => new Pose(x, floor - height * Math.Abs(Math.Sin(2 * Math.PI * t)));
    }

    /// <summary>Across the frame (left or right) while going up and down in two straight zig-zags.</summary>
    private static Func<double, Pose> Zigzag(Random random)
    {
        double direction = random.Next(2) == 0 ? -1 : 1, length = Uniform(random, 0.4, 0.5);
        double cy = 0.5 + Uniform(random, -0.06, 0.06), amplitude = Uniform(random, 0.1, 0.14);
        return t =>
        {
            double w = 2 * t + 0.25;
            double wave = 1 - 4 * Math.Abs(w - Math.Floor(w) - 0.5); // triangle wave, 0 at t = 0, peaks at t = 1/8, 5/8
            return new Pose(0.5 + direction * length * (t - 0.5), cy - amplitude * wave);
        };
    }
}
