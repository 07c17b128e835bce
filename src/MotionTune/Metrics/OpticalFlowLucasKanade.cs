using MotionTune.Video;
using OpenCvSharp;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>
/// Settings of OpenCV's pyramidal Lucas-Kanade tracker (<c>calcOpticalFlowPyrLK</c>). The defaults are the
/// <c>lk_params</c> of OpenCV's optical-flow tutorial (window 15 x 15, 2 pyramid levels above the image, stop after 10
/// iterations or a step below 0.03 px), which the reference fixture uses too; OpenCV's own function defaults are
/// 21 x 21, 3 levels, 30 iterations, 0.01.
/// </summary>
public sealed record LucasKanadeOptions
{
    /// <summary>Side of the square search window at each pyramid level, in pixels.</summary>
    public int WindowSize { get; init; } = 15;

    /// <summary>Pyramid levels above the full image (0 = no pyramid).</summary>
    public int MaxLevel { get; init; } = 2;

    /// <summary>Iteration limit per level.</summary>
    public int MaxIterations { get; init; } = 10;

    /// <summary>Stop iterating when the update is smaller than this many pixels.</summary>
    public double Epsilon { get; init; } = 0.03;

    /// <summary>
    /// A point is marked failed when the smallest eigenvalue of its window's 2x2 gradient matrix, divided by the window
    /// area, is below this (OpenCV's default); it rejects textureless windows, where the flow is undetermined.
    /// </summary>
    public double MinEigenThreshold { get; init; } = 1e-4;

    internal void Validate()
    {
        if (WindowSize < 3) throw new ArgumentOutOfRangeException(nameof(WindowSize), WindowSize, "must be at least 3.");
        if (MaxLevel < 0) throw new ArgumentOutOfRangeException(nameof(MaxLevel), MaxLevel, "must not be negative.");
        if (MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "must be at least 1.");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "must not be negative.");
    }
}

/// <summary>Points tracked from one frame to the next.</summary>
/// <param name="Positions">Where each point was found in the next frame (x, y in pixels).</param>
/// <param name="Found">False where the tracker lost the point (textureless window, or it left the image).</param>
public sealed record TrackedPoints(Point2f[] Positions, bool[] Found);

/// <summary>Sparse optical flow with OpenCV's pyramidal Lucas-Kanade (Bouguet's implementation) on 8-bit grayscale frames.</summary>
public static class LucasKanade
{
    /// <summary>
    /// A regular grid with <paramref name="spacing"/> pixels between points and the same margin to the image edges:
    /// x = s, 2s, …, up to W − s (likewise y), in row-major order (x varies fastest). A 96 x 96 frame with s = 8 gets
    /// 11 x 11 points at 8, 16, …, 88.
    /// </summary>
    public static Point2f[] GridPoints(int height, int width, int spacing)
    {
        if (spacing < 1) throw new ArgumentOutOfRangeException(nameof(spacing), spacing, "must be at least 1 pixel.");
        if (height < 2 * spacing || width < 2 * spacing)
            throw new ArgumentException($"a {width}x{height} frame is too small for a grid with {spacing} px spacing and margin.");
        var points = new List<Point2f>();
        for (int y = spacing; y <= height - spacing; y += spacing)
            for (int x = spacing; x <= width - spacing; x += spacing)
                points.Add(new Point2f(x, y));
        return [.. points];
    }

    /// <summary>Tracks <paramref name="points"/> from <paramref name="previous"/> to <paramref name="next"/> (8-bit single-channel, same size).</summary>
    public static TrackedPoints Track(Mat previous, Mat next, Point2f[] points, LucasKanadeOptions? options = null)
    {
        options ??= new();
        options.Validate();
        if (previous.Type() != MatType.CV_8UC1 || next.Type() != MatType.CV_8UC1 || previous.Size() != next.Size())
            throw new ArgumentException($"Lucas-Kanade needs two 8-bit grayscale frames of one size, got {previous.Type()} {previous.Size()} and {next.Type()} {next.Size()}.");
        if (points.Length == 0) return new([], []);
        var tracked = new Point2f[points.Length];
        Cv2.CalcOpticalFlowPyrLK(previous, next, points, ref tracked, out var status, out _,
            new OpenCvSharp.Size(options.WindowSize, options.WindowSize), options.MaxLevel,
            new TermCriteria(CriteriaTypes.Count | CriteriaTypes.Eps, options.MaxIterations, options.Epsilon),
            OpticalFlowFlags.None, options.MinEigenThreshold);
        return new(tracked, status.Select(s => s != 0).ToArray());
    }

    /// <summary>
    /// Flow of every consecutive frame pair on the regular grid (<see cref="GridPoints"/>). Frames are (F, H, W, 3) RGB
    /// (<c>uint8</c>, or float in [0, 1]); they are converted to grayscale with OpenCV's RGB2GRAY
    /// (0.299 R + 0.587 G + 0.114 B), the luminance OpenCV's own examples track.
    /// </summary>
    public static GridFlow Grid(Tensor frames, int spacing = GridFlow.DefaultSpacing, LucasKanadeOptions? options = null)
    {
        OpenCvRuntime.EnsureAvailable("optical flow");
        using var scope = NewDisposeScope();
        var rgb = FrameTensors.ToUInt8Frames(frames, "optical flow frames");
        int count = (int)rgb.shape[0], height = (int)rgb.shape[1], width = (int)rgb.shape[2];
        if (count < 2) throw new ArgumentException($"optical flow needs at least 2 frames, got {count}.");
        var points = GridPoints(height, width, spacing);
        var flow = new float[(count - 1) * points.Length * 2];
        var valid = new bool[(count - 1) * points.Length];
        Mat? previous = null;
        try
        {
            for (int t = 0; t < count; t++)
            {
                var current = FrameTensors.ToGrayMat(rgb, t);
                if (previous is not null)
                {
                    var tracked = Track(previous, current, points, options);
                    for (int p = 0; p < points.Length; p++)
                    {
                        int k = (t - 1) * points.Length + p;
                        flow[2 * k] = tracked.Positions[p].X - points[p].X;
                        flow[2 * k + 1] = tracked.Positions[p].Y - points[p].Y;
                        valid[k] = tracked.Found[p];
                    }
                    previous.Dispose();
                }
                previous = current;
            }
        }
        finally
        {
            previous?.Dispose();
        }
        return new GridFlow(
            tensor(points.SelectMany(p => new[] { p.X, p.Y }).ToArray(), [points.Length, 2]),
            tensor(flow, [count - 1, points.Length, 2]),
            tensor(valid, [count - 1, points.Length]),
            spacing);
    }
}

/// <summary>
/// Lucas-Kanade flow on a regular grid for each consecutive frame pair of a video. It owns its CPU tensors (they are
/// taken out of any dispose scope) and frees them when disposed.
/// </summary>
public sealed class GridFlow(Tensor points, Tensor flow, Tensor valid, int spacing) : IDisposable
{
    /// <summary>Default grid spacing in pixels (the reference fixture's).</summary>
    public const int DefaultSpacing = 8;

    /// <summary>(P, 2) grid point positions (x, y) in the first frame of each pair.</summary>
    public Tensor Points { get; } = points.DetachFromDisposeScope();

    /// <summary>(F − 1, P, 2) displacement (dx, dy) in pixels of each point from frame t to frame t + 1.</summary>
    public Tensor Flow { get; } = flow.DetachFromDisposeScope();

    /// <summary>(F − 1, P) true where the tracker found the point in frame t + 1.</summary>
    public Tensor Valid { get; } = valid.DetachFromDisposeScope();

    /// <summary>Grid spacing in pixels.</summary>
    public int Spacing { get; } = spacing;

    /// <inheritdoc />
    public void Dispose()
    {
        Points.Dispose();
        Flow.Dispose();
        Valid.Dispose();
    }
}
