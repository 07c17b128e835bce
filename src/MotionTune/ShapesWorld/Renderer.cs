using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>What a clip shows: the object's look and its trajectory.</summary>
/// <param name="Appearance">Shape, colour and background.</param>
/// <param name="Trajectory">The object's pose per frame.</param>
public sealed record ClipSpec(Appearance Appearance, Trajectory Trajectory);

/// <summary>Frame size and drawing settings.</summary>
public sealed record RenderSettings
{
    /// <summary>Frame height in pixels.</summary>
    public int Height { get; init; } = 32;

    /// <summary>Frame width in pixels.</summary>
    public int Width { get; init; } = 32;

    /// <summary>The object's extent (centre to farthest point at scale 1) as a fraction of the shorter frame side.</summary>
    public double ObjectSize { get; init; } = 0.18;

    /// <summary>
    /// Samples per pixel side for anti-aliasing (each pixel is the mean of supersample² point tests); 0 picks
    /// enough for a clean edge at any size: 8 up to 32 pixels, fewer above, at least 2.
    /// </summary>
    public int Supersample { get; init; }

    internal int EffectiveSupersample => Supersample > 0 ? Supersample : Math.Clamp(256 / Math.Max(Height, Width), 2, 8);

    internal void Validate()
    {
        if (Height < 4 || Width < 4) throw new ArgumentException($"Frames must be at least 4 x 4 pixels, got {Width} x {Height}.");
        if (!(ObjectSize > 0 && ObjectSize < 0.5)) throw new ArgumentException($"ObjectSize must be in (0, 0.5), got {ObjectSize}.");
        if (Supersample < 0 || Supersample > 16) throw new ArgumentException($"Supersample must be 0 (automatic) to 16, got {Supersample}.");
    }
}

/// <summary>
/// Draws ShapesWorld clips. Every frame is computed with tensor operations: the shape's inside test at
/// supersample² points per pixel, averaged into a coverage α, then colour·α + background·(1 − α). Rendering is a pure
/// function of its inputs, so the same clip gives the same bytes on every run.
/// </summary>
public static class Renderer
{
    /// <summary>Point tests per chunk of frames (bounds the temporaries of a chunk at about 200 MB).</summary>
    private const long ChunkSamples = 1 << 22;

    /// <summary>Renders one clip as (F, H, W, 3) <c>uint8</c> RGB frames.</summary>
    public static Tensor Render(ClipSpec clip, RenderSettings settings, Device? device = null)
    {
        using var batch = Render([clip], settings, device);
        return batch[0].clone();
    }

    /// <summary>Renders clips of equal frame count as (N, F, H, W, 3) <c>uint8</c> RGB frames.</summary>
    /// <exception cref="ArgumentException">Clips of different lengths, a name not in the palettes, or bad settings.</exception>
    public static Tensor Render(IReadOnlyList<ClipSpec> clips, RenderSettings settings, Device? device = null)
    {
        settings.Validate();
        if (clips.Count == 0) throw new ArgumentException("No clips to render.", nameof(clips));
        int frames = clips[0].Trajectory.Frames;
        foreach (var clip in clips) clip.Appearance.Validate();
        if (clips.Any(c => c.Trajectory.Frames != frames))
            throw new ArgumentException($"Clips of one batch must have the same frame count; got {string.Join(", ", clips.Select(c => c.Trajectory.Frames).Distinct())}.", nameof(clips));
        device ??= CPU;
        int n = clips.Count, h = settings.Height, w = settings.Width;

        using var scope = NewDisposeScope();
        var alpha = zeros([n * frames, h, w], ScalarType.Float32, device);
        // Frames of one shape are drawn together, in chunks.
        for (int s = 0; s < Shapes.All.Count; s++)
        {
            var rows = new List<int>();
            var poses = new List<Pose>();
            for (int c = 0; c < n; c++)
            {
                if (clips[c].Appearance.Shape != Shapes.All[s].Name) continue;
                for (int f = 0; f < frames; f++) { rows.Add(c * frames + f); poses.Add(clips[c].Trajectory.Poses[f]); }
            }
            int ss = settings.EffectiveSupersample;
            int chunk = (int)Math.Max(1, ChunkSamples / ((long)h * w * ss * ss));
            for (int start = 0; start < rows.Count; start += chunk)
            {
                int count = Math.Min(chunk, rows.Count - start);
                using var inner = NewDisposeScope();
                var coverage = Coverage(Shapes.All[s], poses.GetRange(start, count), settings, device);
                alpha.index_copy_(0, tensor(rows.GetRange(start, count).Select(r => (long)r).ToArray(), device: device), coverage);
            }
        }

        var colours = tensor(clips.SelectMany(c =>
        {
            var colour = Palette.Colour(c.Appearance.Colour);
            return new float[] { colour.R, colour.G, colour.B };
        }).ToArray(), [n, 1, 1, 1, 3], device: device);
        var backgrounds = stack(clips.Select(c => BackgroundImage(Palette.Background(c.Appearance.Background), h, w, settings.EffectiveSupersample, device)).ToArray())
            .view(n, 1, h, w, 1);
        var a = alpha.view(n, frames, h, w, 1);
        var image = backgrounds * (1 - a) + colours * a;
        return image.round_().clamp_(0, 255).to(ScalarType.Byte).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Coverage in [0, 1] of <paramref name="shape"/> at each pose, (poses, H, W): the share of each pixel's
    /// supersample points inside the shape. Pixel (i, j) covers [j, j + 1] x [i, i + 1] in pixel units; a pose's centre
    /// is at (x W, y H) and its extent is ObjectSize · min(H, W) · scale pixels.
    /// </summary>
    public static Tensor Coverage(Shape shape, IReadOnlyList<Pose> poses, RenderSettings settings, Device? device = null)
    {
        device ??= CPU;
        int h = settings.Height, w = settings.Width, ss = settings.EffectiveSupersample, b = poses.Count;
        using var scope = NewDisposeScope();
        var px = arange(w * ss, ScalarType.Float32, device).add_(0.5).div_(ss).view(1, 1, -1);
        var py = arange(h * ss, ScalarType.Float32, device).add_(0.5).div_(ss).view(1, -1, 1);
        double unit = settings.ObjectSize * Math.Min(h, w);
        Tensor Column(Func<Pose, double> value) =>
            tensor(poses.Select(p => (float)value(p)).ToArray(), device: device).view(b, 1, 1);
        var cx = Column(p => p.X * w);
        var cy = Column(p => p.Y * h);
        var inverseRadius = Column(p => 1 / (unit * p.Scale));
        var cos = Column(p => Math.Cos(p.Rotation * Math.PI / 180));
        var sin = Column(p => Math.Sin(p.Rotation * Math.PI / 180));
        var dx = px - cx;
        var dy = py - cy;
        // Into the shape's own frame: undo the clockwise-on-screen rotation, then the size.
        var u = (dx * cos + dy * sin).mul_(inverseRadius);
        var v = (dy * cos - dx * sin).mul_(inverseRadius);
        var inside = shape.Inside(u, v).to(ScalarType.Float32);
        return nn.functional.avg_pool2d(inside.unsqueeze(1), ss).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A background as an (H, W) grey image with values 0..255. Stripes are vertical, four pairs across the frame,
    /// starting with <see cref="Background.Level"/> at the left; the checkerboard has 4 x 4 cells, the top-left one of
    /// <see cref="Background.Level"/>. Pattern edges that fall inside a pixel are anti-aliased like the object.
    /// </summary>
    public static Tensor BackgroundImage(Background background, int height, int width, int supersample = 4, Device? device = null)
    {
        device ??= CPU;
        using var scope = NewDisposeScope();
        if (background.Pattern == BackgroundPattern.Solid)
            return full([height, width], (float)background.Level, ScalarType.Float32, device).MoveToOuterDisposeScope();
        int ss = Math.Max(1, supersample);
        var column = arange(width * ss, ScalarType.Float32, device).add_(0.5).div_(ss * width).mul_(background.Pattern == BackgroundPattern.Stripes ? 8 : 4).floor_().view(1, -1);
        var row = arange(height * ss, ScalarType.Float32, device).add_(0.5).div_(ss * height).mul_(4).floor_().view(-1, 1);
        var cell = background.Pattern == BackgroundPattern.Stripes ? column.expand(height * ss, -1) : column + row;
        var second = cell.remainder(2).eq(1).to(ScalarType.Float32);
        var fine = second * (background.SecondLevel - background.Level) + background.Level;
        return nn.functional.avg_pool2d(fine.view(1, 1, height * ss, width * ss), ss).view(height, width).MoveToOuterDisposeScope();
    }
}
