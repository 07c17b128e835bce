using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// A shape of ShapesWorld, defined in its own unit frame: u to the right, v down, the centroid at the origin and the
/// farthest point at distance at most 1 (the renderer scales that to the object size).
/// </summary>
public sealed class Shape
{
    private readonly Func<Tensor, Tensor, Tensor> _inside;

    private Shape(string name, int symmetry, Func<Tensor, Tensor, Tensor> inside)
    {
        Name = name;
        Symmetry = symmetry;
        _inside = inside;
    }

    /// <summary>The caption word (<c>circle</c>).</summary>
    public string Name { get; }

    /// <summary>Order of rotational symmetry (a rotation by 360 / order degrees maps the shape onto itself); 0 for the circle, which any rotation does.</summary>
    public int Symmetry { get; }

    /// <summary>Whether each point (u, v) of the shape's unit frame lies inside; the tensors broadcast.</summary>
    public Tensor Inside(Tensor u, Tensor v) => _inside(u, v);

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>A disc of radius 0.85.</summary>
    internal static Shape Circle() => new("circle", 0, (u, v) => u.square().add_(v.square()).le_(0.85 * 0.85));

    /// <summary>An axis-aligned square of half side 0.75 (about the circle's area).</summary>
    internal static Shape Square() => new("square", 4, (u, v) => u.abs().le(0.75).logical_and_(v.abs().le(0.75)));

    /// <summary>An equilateral triangle pointing up, circumradius 1.</summary>
    internal static Shape Triangle() => new("triangle", 3, (u, v) => StarInside(u, v, 3, 1.0, Math.Cos(Math.PI / 3)));

    /// <summary>A five-pointed star pointing up, outer radius 1, inner radius 0.45.</summary>
    internal static Shape Star() => new("star", 5, (u, v) => StarInside(u, v, 5, 1.0, 0.45));

    /// <summary>An upright plus sign, arms reaching 0.95, half width 0.32.</summary>
    internal static Shape Cross() => new("cross", 4, (u, v) =>
    {
        using var au = u.abs();
        using var av = v.abs();
        using var horizontal = au.le(0.95).logical_and_(av.le(0.32));
        return av.le(0.95).logical_and_(au.le(0.32)).logical_or_(horizontal);
    });

    /// <summary>
    /// Inside test of a regular polygon or star with <paramref name="points"/> vertices at radius <paramref name="outer"/>
    /// (one pointing up) and, between them, corners at radius <paramref name="inner"/> (a regular polygon has
    /// inner = outer cos(pi / points)). The angle around the centre is folded into the half sector between a vertex and
    /// the next inner corner, where the boundary is the single edge from one to the other; a point is inside when it is
    /// on the centre's side of that edge. This holds for the non-convex star too, since each folded sector is a triangle.
    /// </summary>
    private static Tensor StarInside(Tensor u, Tensor v, int points, double outer, double inner)
    {
        using var scope = NewDisposeScope();
        double sector = 2 * Math.PI / points, half = sector / 2;
        var angle = atan2(u, v.neg()).remainder_(sector); // from "up", clockwise on screen
        var folded = minimum(angle, angle.neg().add_(sector));
        var rho = u.square().add_(v.square()).sqrt_();
        var px = rho * folded.cos();
        var py = rho * folded.sin();
        double bx = inner * Math.Cos(half), by = inner * Math.Sin(half);
        // cross((B - A), (P - A)) >= 0, with A = (outer, 0): the origin's side, since cross((B - A), (O - A)) = by * outer > 0.
        var cross = py.mul_(bx - outer).sub_(px.sub_(outer).mul_(by));
        return cross.ge_(0).MoveToOuterDisposeScope();
    }
}

/// <summary>The shapes of ShapesWorld.</summary>
public static class Shapes
{
    /// <summary>All shapes, in a fixed order (their index is their id).</summary>
    public static readonly IReadOnlyList<Shape> All = [Shape.Circle(), Shape.Square(), Shape.Triangle(), Shape.Star(), Shape.Cross()];

    /// <summary>The shape named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Not a ShapesWorld shape.</exception>
    public static Shape Get(string name) => All[IndexOf(name)];

    /// <summary>Index of a shape in <see cref="All"/>.</summary>
    /// <exception cref="ArgumentException">Not a ShapesWorld shape.</exception>
    public static int IndexOf(string name) => Palette.IndexOf(All.Select(s => s.Name), name, "shape");
}
