using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>
/// Recognises the object's shape by template matching in a canonical frame, which makes it independent of position,
/// size and rotation.
/// <para>
/// Canonical patch. The object's coverage map is resampled (bilinear) onto a <see cref="PatchSize"/>² grid centred on
/// its centroid and spanning ± <see cref="Extent"/> equivalent radii, where the equivalent radius r = √(area / π) is that
/// of a disc of the same area. Every shape's farthest point lies within 1.6 r.
/// The patch holds coverage in [0, 1], so the score below compares shapes, not colours or brightness.
/// </para>
/// <para>
/// Templates. Each shape is rendered by <see cref="Renderer.Coverage"/> at rotations 6 degrees apart over its symmetry
/// period, and brought into the canonical frame the same way. A small object's coverage map is blurred by its pixels,
/// so the templates are rendered at the object's own pixel scale: banks exist for r of 2 to 8 pixels in steps of √2
/// (the nearest is used), averaging four sub-pixel placements below 5 pixels. From 8 pixels on, a frame pixel is no
/// larger than a canonical sample and the blur no longer matters: that bank is drawn straight onto the canonical grid.
/// </para>
/// <para>
/// Score: the soft IoU Σ min(p, t) / Σ max(p, t) of patch p and template t. The shape is that of the best template.
/// </para>
/// </summary>
public static class ShapeTemplates
{
    /// <summary>Side of the canonical patch in samples.</summary>
    public const int PatchSize = 32;

    /// <summary>Half-extent of the canonical patch in equivalent radii.</summary>
    public const double Extent = 2.0;

    private const double RotationStep = 6;
    private static readonly double[] Scales = [2, 2 * Math.Sqrt(2), 4, 4 * Math.Sqrt(2), 8];
    private static readonly ConcurrentDictionary<int, (Tensor Templates, long[] ShapeOf)> Banks = new();
    private static readonly Lazy<double[]> UnitAreas = new(() => Shapes.All.Select(UnitArea).ToArray());

    /// <summary>
    /// Per frame, the best shape's index in <see cref="Shapes.All"/> and its soft IoU (−1 and 0 where
    /// <paramref name="present"/> is false). <paramref name="coverage"/> is (F, H, W) in [0, 1]; centroids and areas in pixels.
    /// </summary>
    public static (Tensor ShapeIndex, Tensor Score) Match(Tensor coverage, Tensor cx, Tensor cy, Tensor area, Tensor present)
    {
        using var scope = NewDisposeScope();
        var radius = area.clamp_min(1e-6).div(Math.PI).sqrt();
        var best = full(coverage.shape[0], -1L);
        var score = zeros(coverage.shape[0]);
        var radii = radius.data<float>().ToArray();
        var shown = present.data<bool>().ToArray();
        // Large objects: box-average the coverage by p = ⌊r / 8⌋ first (it keeps area and centroid), so that the
        // bilinear samples of the patch, r / 8 pixels apart, do not skip pixels. Frames are matched in groups of the
        // same pooling and template bank; each frame's result depends only on that frame.
        var groups = Enumerable.Range(0, (int)coverage.shape[0]).Where(f => shown[f])
            .GroupBy(f => (Pool: Math.Max(1, (int)(radii[f] / 8)), Level: NearestScale(radii[f])));
        foreach (var group in groups)
        {
            int pool = group.Key.Pool;
            var rows = tensor(group.Select(f => (long)f).ToArray());
            var selected = coverage.index_select(0, rows);
            var pooled = pool == 1 ? selected : nn.functional.avg_pool2d(selected.unsqueeze(1), pool, ceil_mode: true).squeeze(1);
            var p = Canonical(pooled, cx.index_select(0, rows) / pool, cy.index_select(0, rows) / pool, radius.index_select(0, rows) / pool)
                .flatten(1).unsqueeze(1);                                                    // (n, 1, P²)
            var (templates, shapeOf) = Bank(group.Key.Level);
            var t = templates.unsqueeze(0);                                                  // (1, T, P²)
            var iou = minimum(p, t).sum(2) / maximum(p, t).sum(2).clamp_min(1e-6);         // (n, T)
            var (top, at) = iou.max(1);
            best.index_copy_(0, rows, tensor(shapeOf).index_select(0, at));
            score.index_copy_(0, rows, top);
        }
        return (best.MoveToOuterDisposeScope(), score.MoveToOuterDisposeScope());
    }

    /// <summary>(F, H, W) coverage resampled to (F, P, P) around each (cx, cy) with half-extent <see cref="Extent"/> · radius (all in pixels).</summary>
    internal static Tensor Canonical(Tensor coverage, Tensor cx, Tensor cy, Tensor radius)
    {
        using var scope = NewDisposeScope();
        long n = coverage.shape[0], h = coverage.shape[1], w = coverage.shape[2];
        // affine_grid maps output coordinates u in [-1, 1] to input ones; pixel x (edges at 0..W) is at 2x / W - 1.
        var zero = zeros(n);
        var theta = stack([
            stack([radius * (2 * Extent / w), zero, cx * (2.0 / w) - 1], 1),
            stack([zero, radius * (2 * Extent / h), cy * (2.0 / h) - 1], 1),
        ], 1);                                                                               // (F, 2, 3)
        var grid = nn.functional.affine_grid(theta, [n, 1, PatchSize, PatchSize], align_corners: false);
        var patches = nn.functional.grid_sample(coverage.unsqueeze(1), grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Zeros, align_corners: false);
        return patches.squeeze(1).MoveToOuterDisposeScope();
    }

    private static int NearestScale(double radius)
    {
        int best = 0;
        for (int i = 1; i < Scales.Length; i++)
            if (Math.Abs(Math.Log(radius / Scales[i])) < Math.Abs(Math.Log(radius / Scales[best]))) best = i;
        return best;
    }

    /// <summary>Templates (T, P²) for objects of equivalent radius about Scales[level] pixels, and the shape index of each.</summary>
    private static (Tensor Templates, long[] ShapeOf) Bank(int level) => Banks.GetOrAdd(level, _ =>
    {
        using var scope = NewDisposeScope();
        // The largest scale is drawn straight onto the canonical grid (one sample per pixel there); smaller ones are
        // drawn at their pixel scale, at four sub-pixel placements when small, and resampled like an observed object.
        bool direct = level == Scales.Length - 1;
        double r = direct ? PatchSize / (2 * Extent) : Scales[level];
        int grid = direct ? PatchSize : (int)Math.Ceiling(2 * Extent * r) + 4;
        var settings = new RenderSettings { Height = grid, Width = grid, ObjectSize = 0.25, Supersample = 4 };
        (double, double)[] phases = r < 5 ? [(0, 0), (0.5, 0), (0, 0.5), (0.5, 0.5)] : [(0, 0)];
        var templates = new List<Tensor>();
        var shapeOf = new List<long>();
        for (int s = 0; s < Shapes.All.Count; s++)
        {
            var shape = Shapes.All[s];
            double scale = r * Math.Sqrt(Math.PI / UnitAreas.Value[s]) / (settings.ObjectSize * grid);
            int rotations = shape.Symmetry == 0 ? 1 : (int)Math.Round(360.0 / shape.Symmetry / RotationStep);
            var poses = new List<Pose>();
            for (int k = 0; k < rotations; k++)
                foreach (var (dx, dy) in phases)
                    poses.Add(new Pose((grid / 2 + dx) / grid, (grid / 2 + dy) / grid, scale, k * RotationStep));
            var coverage = Renderer.Coverage(shape, poses, settings);
            if (!direct)
            {
                var area = coverage.sum([1, 2]);
                var xs = arange(grid, ScalarType.Float32).add(0.5);
                var cx = (coverage * xs.view(1, 1, -1)).sum([1, 2]) / area;
                var cy = (coverage * xs.view(1, -1, 1)).sum([1, 2]) / area;
                coverage = Canonical(coverage, cx, cy, area.div(Math.PI).sqrt());
            }
            templates.Add(coverage.reshape(rotations, phases.Length, -1).mean([1]));           // average the placements
            shapeOf.AddRange(Enumerable.Repeat((long)s, rotations));
        }
        return (cat(templates, 0).DetachFromDisposeScope(), shapeOf.ToArray()); // cached for the process
    });

    /// <summary>A shape's area in its unit frame, from a fine rendering.</summary>
    private static double UnitArea(Shape shape)
    {
        var settings = new RenderSettings { Height = 256, Width = 256, ObjectSize = 0.45, Supersample = 2 };
        using var coverage = Renderer.Coverage(shape, [new Pose(0.5, 0.5)], settings);
        double unit = settings.ObjectSize * 256;
        return coverage.sum().item<float>() / (unit * unit);
    }
}
