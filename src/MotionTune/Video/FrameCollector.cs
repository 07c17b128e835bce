using OpenCvSharp;
using static TorchSharp.torch;

namespace MotionTune.Video;

/// <summary>Gathers decoded BGR frames, fitted to the target size as they arrive, into a <see cref="VideoClip"/>.</summary>
internal sealed class FrameCollector(string source, VideoReadOptions options) : IDisposable
{
    private readonly List<Mat> _frames = [];

    /// <summary>Frames gathered so far.</summary>
    public int Count => _frames.Count;

    /// <summary>Fits (when a target size is set) and keeps a copy of <paramref name="bgr"/>, source frame <paramref name="index"/>.</summary>
    public void Add(Mat bgr, int index, string? frameName = null)
    {
        if (bgr.Empty() || bgr.Type() != MatType.CV_8UC3)
            throw new VideoFormatException($"{frameName ?? source}: frame {index} is not an 8-bit colour image ({bgr.Type()}).");
        var fitted = options.Height is int h && options.Width is int w
            ? FrameGeometry.Fit(bgr, h, w, options.Resize, frameName ?? source)
            : bgr.Clone();
        if (_frames.Count > 0 && (fitted.Rows != _frames[0].Rows || fitted.Cols != _frames[0].Cols))
        {
            var message = $"{frameName ?? source}: frame {index} is {fitted.Cols}x{fitted.Rows} but the first frame is {_frames[0].Cols}x{_frames[0].Rows}; set a target size to read frames of mixed sizes.";
            fitted.Dispose();
            throw new VideoFormatException(message);
        }
        _frames.Add(fitted);
    }

    /// <summary>The gathered frames as a clip.</summary>
    public VideoClip ToClip(double fps, IReadOnlyList<int> sourceIndices)
    {
        if (_frames.Count == 0) throw new VideoFormatException($"{source}: no frames could be decoded.");
        var frames = empty([_frames.Count, _frames[0].Rows, _frames[0].Cols, 3], ScalarType.Byte, CPU);
        for (int i = 0; i < _frames.Count; i++) FrameTensors.CopyBgrInto(_frames[i], frames, i);
        return new VideoClip(frames, fps, sourceIndices);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var m in _frames) m.Dispose();
        _frames.Clear();
    }
}
