using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>What one frame shows, read from its pixels.</summary>
/// <param name="Shape">The recognised shape, or null when no object was found.</param>
/// <param name="Colour">The object's palette colour, or null when no object was found.</param>
/// <param name="Background">The nearest palette background, or null when nothing but object is visible.</param>
/// <param name="X">The object's centroid as a fraction of the frame width (NaN without an object).</param>
/// <param name="Y">The object's centroid as a fraction of the frame height (NaN without an object).</param>
/// <param name="Area">The object's area as a fraction of the frame.</param>
/// <param name="ShapeMatch">Soft IoU of the object with the best shape template, in [0, 1] (0 without an object).</param>
public sealed record FrameReading(string? Shape, string? Colour, string? Background, double X, double Y, double Area, double ShapeMatch)
{
    /// <summary>Whether an object was found.</summary>
    public bool HasObject => Colour is not null;
}

/// <summary>The frames of a video, read.</summary>
/// <param name="Frames">One reading per frame.</param>
public sealed record VideoReading(IReadOnlyList<FrameReading> Frames)
{
    /// <summary>The object's centroid path.</summary>
    public MotionPath Path => new(Frames.Select(f => f.X).ToArray(), Frames.Select(f => f.Y).ToArray());
}

/// <summary>Settings of <see cref="FrameReader"/>.</summary>
public sealed record FrameReaderOptions
{
    /// <summary>
    /// Chroma (see <see cref="FrameReader"/>; of the 3 x 3 mean chroma vector) below which a pixel counts as background.
    /// Backgrounds are grey (chroma 0), object colours have chroma 0.55 to 0.8; Gaussian pixel noise of σ = 0.06 per
    /// channel gives the mean vector a chroma of about 0.03.
    /// </summary>
    public double ChromaFloor { get; init; } = 0.15;

    /// <summary>The least object area, as a fraction of the frame, for a frame to count as showing an object.</summary>
    public double MinArea { get; init; } = 0.005;
}

/// <summary>
/// Reads ShapesWorld frames: segments the object and measures its colour, shape and centroid, and names the background.
/// <para>
/// Segmentation. Per pixel with RGB in [0, 1], the opponent chroma vector is (a, b) = (R − (G + B) / 2, √3/2 (G − B)),
/// the chroma its length and the hue its direction. Backgrounds are grey, so their chroma is 0 on any texture, while an
/// object pixel blended with the background over a fraction α of its area has the chroma vector α (a, b) of the pure
/// colour: its direction, the hue, is exact even on the anti-aliased edge. So the object is marked by the pixels whose
/// chroma vector, averaged over their 3 x 3 neighbourhood (against noise), is longer than
/// <see cref="FrameReaderOptions.ChromaFloor"/>; its colour is the palette colour whose hue is closest to the direction
/// of the summed chroma vectors of the marked pixels; and the coverage of each marked pixel and of its 8 neighbours is
/// α = (chroma vector · that colour's hue) / (that colour's chroma), at most 1 (0 elsewhere): exact on blended edge
/// pixels, and zero-mean on noise. The centroid is the coverage-weighted mean of pixel centres (sub-pixel exact on
/// rendered frames), the area the sum of coverage.
/// </para>
/// <para>
/// Shape: <see cref="ShapeTemplates"/>. Background: the palette background whose rendered image is closest (mean
/// absolute difference to the frame's grey level, the mean of R, G and B) over the unmarked pixels.
/// </para>
/// </summary>
public static class FrameReader
{
    private static readonly double Sqrt3Half = Math.Sqrt(3) / 2;

    /// <summary>
    /// Reads a batch of clips, (N, F, H, W, 3), in one pass (frames are read independently, so this is the same as
    /// reading each clip, with less per-call overhead).
    /// </summary>
    public static IReadOnlyList<VideoReading> ReadBatch(Tensor clips, FrameReaderOptions? options = null)
    {
        if (clips.dim() != 5) throw new ArgumentException($"Expected (N, F, H, W, 3) clips, got [{string.Join(", ", clips.shape)}].", nameof(clips));
        int n = (int)clips.shape[0], f = (int)clips.shape[1];
        using var frames = clips.reshape(n * f, clips.shape[2], clips.shape[3], clips.shape[4]);
        var all = Read(frames, options).Frames;
        return Enumerable.Range(0, n).Select(i => new VideoReading(all.Skip(i * f).Take(f).ToArray())).ToArray();
    }

    /// <summary>Reads (F, H, W, 3) frames: <c>uint8</c> 0..255, or floating point in [0, 1]; any device.</summary>
    public static VideoReading Read(Tensor frames, FrameReaderOptions? options = null)
    {
        options ??= new FrameReaderOptions();
        if (frames.dim() != 4 || frames.shape[3] != 3)
            throw new ArgumentException($"Expected (F, H, W, 3) RGB frames, got [{string.Join(", ", frames.shape)}].", nameof(frames));
        using var scope = NewDisposeScope();
        var rgb = frames.dtype == ScalarType.Byte ? frames.to(ScalarType.Float32).div(255) : frames.to(ScalarType.Float32);
        rgb = rgb.cpu();
        int count = (int)rgb.shape[0], height = (int)rgb.shape[1], width = (int)rgb.shape[2];
        var channels = rgb.unbind(-1);
        var a = channels[0] - (channels[1] + channels[2]) / 2;
        var b = (channels[1] - channels[2]) * Sqrt3Half;
        // Which pixels are object is decided on the chroma vectors averaged over 3 x 3 neighbourhoods: that divides
        // pixel noise by 3 while an object pixel's neighbourhood keeps most of its chroma.
        var smoothed = nn.functional.avg_pool2d(stack([a, b], 1), 3, 1, 1, count_include_pad: false);
        var marked = smoothed.square().sum(1).sqrt().gt(options.ChromaFloor).to(ScalarType.Float32);

        // Colour: nearest palette hue to the summed chroma vector of the marked pixels.
        var summed = stack([(a * marked).sum([1, 2]), (b * marked).sum([1, 2])], 1);            // (F, 2)
        var hues = tensor(Palette.Colours.SelectMany(c => HueVector(c)).ToArray(), [Palette.Colours.Count, 2]);
        var colourIndex = summed.matmul(hues.t()).argmax(1);                                       // (F)
        var paletteChroma = tensor(Palette.Colours.Select(c => (float)Chroma(c)).ToArray());
        // Coverage: the chroma vector's component along the colour's hue over the colour's chroma, on the marked
        // pixels and their neighbours. A faint edge pixel (α below the floor) counts with its exact share, and noise,
        // whose component along any hue averages 0, does not shift centroid or area.
        var hue = hues.index_select(0, colourIndex);                                               // (F, 2)
        var along = a * hue[.., 0].view(count, 1, 1) + b * hue[.., 1].view(count, 1, 1);
        var span = paletteChroma.index_select(0, colourIndex).view(count, 1, 1);
        var near = nn.functional.max_pool2d(marked.unsqueeze(1), 3, 1, 1).squeeze(1);
        var coverage = (along / span).clamp(-1, 1) * near;                                         // (F, H, W)

        var area = coverage.sum([1, 2]);
        var xs = arange(width, ScalarType.Float32).add(0.5).view(1, 1, width);
        var ys = arange(height, ScalarType.Float32).add(0.5).view(1, height, 1);
        var cx = (coverage * xs).sum([1, 2]) / area.clamp_min(1e-6);
        var cy = (coverage * ys).sum([1, 2]) / area.clamp_min(1e-6);
        var present = area.ge(options.MinArea * height * width);

        var (shapeIndex, shapeMatch) = ShapeTemplates.Match(coverage.clamp_min(0), cx, cy, area, present);
        var backgroundIndex = NearestBackground(rgb, marked, height, width);

        var colours = colourIndex.data<long>().ToArray();
        var shapes = shapeIndex.data<long>().ToArray();
        var matches = shapeMatch.data<float>().ToArray();
        var backgrounds = backgroundIndex.data<long>().ToArray();
        var areas = area.data<float>().ToArray();
        var x = cx.data<float>().ToArray();
        var y = cy.data<float>().ToArray();
        var has = present.data<bool>().ToArray();
        var readings = new FrameReading[count];
        for (int f = 0; f < count; f++)
        {
            readings[f] = has[f]
                ? new FrameReading(Shapes.All[(int)shapes[f]].Name, Palette.Colours[(int)colours[f]].Name,
                    backgrounds[f] < 0 ? null : Palette.Backgrounds[(int)backgrounds[f]].Name,
                    x[f] / width, y[f] / height, areas[f] / (height * width), matches[f])
                : new FrameReading(null, null, backgrounds[f] < 0 ? null : Palette.Backgrounds[(int)backgrounds[f]].Name,
                    double.NaN, double.NaN, areas[f] / (height * width), 0);
        }
        return new VideoReading(readings);
    }

    /// <summary>A colour's unit hue vector (a, b) / chroma.</summary>
    internal static float[] HueVector(ObjectColour colour)
    {
        var (a, b) = ChromaVector(colour);
        var length = Math.Sqrt(a * a + b * b);
        return [(float)(a / length), (float)(b / length)];
    }

    /// <summary>A colour's chroma (length of its chroma vector).</summary>
    internal static double Chroma(ObjectColour colour)
    {
        var (a, b) = ChromaVector(colour);
        return Math.Sqrt(a * a + b * b);
    }

    private static (double A, double B) ChromaVector(ObjectColour c) =>
        ((c.R - (c.G + c.B) / 2.0) / 255, Sqrt3Half * (c.G - c.B) / 255);

    /// <summary>Per frame, the index of the palette background nearest over the unmarked pixels; −1 when there are none.</summary>
    private static Tensor NearestBackground(Tensor rgb, Tensor marked, int height, int width)
    {
        var free = 1 - marked;                                                                     // (F, H, W)
        var pixels = free.sum([1, 2]);
        var grey = rgb.mean([3]);                                                                  // backgrounds are grey
        int ss = new RenderSettings { Height = height, Width = width }.EffectiveSupersample;
        var distances = stack(Palette.Backgrounds.Select(background =>
        {
            var image = Renderer.BackgroundImage(background, height, width, ss).div(255).unsqueeze(0);
            return ((grey - image).abs() * free).sum([1, 2]) / pixels.clamp_min(1);
        }).ToArray(), 1);                                                                          // (F, backgrounds)
        return distances.argmin(1).where(pixels.gt(0), tensor(-1L));
    }
}
