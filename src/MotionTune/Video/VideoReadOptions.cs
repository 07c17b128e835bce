namespace MotionTune.Video;

/// <summary>How a frame is brought to the target height and width.</summary>
public enum ResizeMode
{
    /// <summary>Scale, keeping the aspect ratio, until the frame covers the target, then cut the centre out (the usual preprocessing of video models).</summary>
    CoverAndCenterCrop,
    /// <summary>Scale each side to the target independently (the aspect ratio changes).</summary>
    Stretch,
    /// <summary>Cut the centre out without scaling; the frame must be at least as large as the target.</summary>
    CenterCropOnly,
}

/// <summary>What <see cref="VideoFile.Read"/> does to the decoded frames. Every option is off by default.</summary>
public sealed record VideoReadOptions
{
    /// <summary>Sample this many frames evenly over the video (<see cref="FrameSampling.EvenIndices"/>); null keeps every frame.</summary>
    public int? FrameCount { get; init; }

    /// <summary>Target height in pixels; with <see cref="Width"/> (both or neither), frames are brought to H x W by <see cref="Resize"/>.</summary>
    public int? Height { get; init; }

    /// <summary>Target width in pixels; see <see cref="Height"/>.</summary>
    public int? Width { get; init; }

    /// <summary>How frames are brought to <see cref="Height"/> x <see cref="Width"/>.</summary>
    public ResizeMode Resize { get; init; } = ResizeMode.CoverAndCenterCrop;

    /// <summary>The rate given to frames whose source stores none: a folder of frames, or a video without a usable rate.</summary>
    public double FallbackFps { get; init; } = 8;

    /// <summary>No sampling, no resizing.</summary>
    public static VideoReadOptions Default { get; } = new();

    /// <summary>Throws on inconsistent options.</summary>
    internal void Validate()
    {
        if (FrameCount is < 1) throw new ArgumentOutOfRangeException(nameof(FrameCount), FrameCount, "must be at least 1.");
        if (Height.HasValue != Width.HasValue)
            throw new ArgumentException($"{nameof(Height)} and {nameof(Width)} must be given together (got {Height?.ToString() ?? "null"} x {Width?.ToString() ?? "null"}).");
        if (Height is < 1 || Width is < 1) throw new ArgumentOutOfRangeException(nameof(Height), $"target size {Width}x{Height} must be positive.");
        if (!Enum.IsDefined(Resize)) throw new ArgumentOutOfRangeException(nameof(Resize), Resize, "unknown resize mode.");
        if (!(FallbackFps > 0) || double.IsInfinity(FallbackFps)) throw new ArgumentOutOfRangeException(nameof(FallbackFps), FallbackFps, "must be positive and finite.");
    }
}
