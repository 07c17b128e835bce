using static TorchSharp.torch;

namespace MotionTune.Video;

/// <summary>
/// Decoded video frames with their playback rate. <see cref="Frames"/> is a CPU <c>uint8</c> tensor of shape
/// (F, H, W, 3) in RGB order; <see cref="ToFloat"/> gives the same frames as <c>float32</c> in [0, 1].
/// The clip owns its tensor: dispose the clip (or take the tensor with <see cref="DetachFrames"/>).
/// </summary>
public sealed class VideoClip : IDisposable
{
    private Tensor? _frames;

    /// <summary>Wraps (F, H, W, 3) RGB frames, <c>uint8</c> (or <c>float</c> in [0, 1], converted), played at <paramref name="fps"/>.</summary>
    /// <param name="frames">(F, H, W, 3) frames; the clip takes ownership of a <c>uint8</c> CPU tensor, anything else is converted into a new one.</param>
    /// <param name="fps">Frames per second, positive.</param>
    /// <param name="sourceFrameIndices">Which frames of the source these are (after sampling); defaults to 0..F-1.</param>
    public VideoClip(Tensor frames, double fps, IReadOnlyList<int>? sourceFrameIndices = null)
    {
        // The clip is the tensor's one owner: no enclosing dispose scope may free it under the clip.
        _frames = FrameTensors.ToUInt8Frames(frames, nameof(frames)).DetachFromDisposeScope();
        if (!(fps > 0) || double.IsInfinity(fps)) throw new ArgumentOutOfRangeException(nameof(fps), fps, "frames per second must be positive and finite.");
        Fps = fps;
        var count = (int)_frames.shape[0];
        if (sourceFrameIndices is not null && sourceFrameIndices.Count != count)
            throw new ArgumentException($"{sourceFrameIndices.Count} source indices for {count} frames.", nameof(sourceFrameIndices));
        SourceFrameIndices = sourceFrameIndices ?? Enumerable.Range(0, count).ToArray();
    }

    /// <summary>(F, H, W, 3) <c>uint8</c> RGB frames on the CPU.</summary>
    public Tensor Frames => _frames ?? throw new ObjectDisposedException(nameof(VideoClip));

    /// <summary>Frames per second at which the clip plays at the source's speed.</summary>
    public double Fps { get; }

    /// <summary>The index in the source video of each frame (see <see cref="FrameSampling.EvenIndices"/>).</summary>
    public IReadOnlyList<int> SourceFrameIndices { get; }

    /// <summary>Number of frames F.</summary>
    public int FrameCount => (int)Frames.shape[0];

    /// <summary>Frame height H in pixels.</summary>
    public int Height => (int)Frames.shape[1];

    /// <summary>Frame width W in pixels.</summary>
    public int Width => (int)Frames.shape[2];

    /// <summary>Duration in seconds: <see cref="FrameCount"/> / <see cref="Fps"/>.</summary>
    public double DurationSeconds => FrameCount / Fps;

    /// <summary>A new (F, H, W, 3) <c>float32</c> tensor with values in [0, 1] (value / 255).</summary>
    public Tensor ToFloat() => Frames.to(ScalarType.Float32).div_(255.0);

    /// <summary>Hands the frame tensor to the caller, who then owns it; the clip becomes unusable.</summary>
    public Tensor DetachFrames()
    {
        var frames = Frames;
        _frames = null;
        return frames;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _frames?.Dispose();
        _frames = null;
    }

    /// <inheritdoc />
    public override string ToString() => _frames is null
        ? "VideoClip(disposed)"
        : $"VideoClip({FrameCount} frames, {Width}x{Height}, {Fps:0.###} fps)";
}
