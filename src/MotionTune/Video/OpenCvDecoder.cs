using OpenCvSharp;

namespace MotionTune.Video;

/// <summary>Decodes video files with OpenCV's VideoCapture (the FFmpeg build inside OpenCvSharp's runtime).</summary>
internal static class OpenCvDecoder
{
    /// <summary>The clip, or null when OpenCV cannot open the file or decode a single frame of it (the caller then tries ffmpeg).</summary>
    public static VideoClip? TryRead(string path, VideoReadOptions options)
    {
        double fps;
        using (var probe = Open(path))
        {
            if (probe is null) return null;
            fps = probe.Fps is > 0 and < 1000 ? probe.Fps : options.FallbackFps;
            if (options.FrameCount is null) return ReadAll(probe, path, fps, options);
        }
        // Sampling needs the exact frame count; container headers only estimate it (gif, webm), so decode once to count.
        int total = CountFrames(path);
        if (total == 0) return null;
        int wanted = options.FrameCount.Value;
        if (wanted > total) throw new ArgumentException($"{path} has {total} frames; cannot sample {wanted}.");
        var indices = FrameSampling.EvenIndices(total, wanted);
        using var capture = Open(path) ?? throw new VideoFormatException($"{path}: could not be reopened for decoding.");
        using var collector = new FrameCollector(path, options);
        using var frame = new Mat();
        int position = 0;
        foreach (var index in indices)
        {
            for (; position < index; position++)
                if (!capture.Grab()) throw Truncated(path, position, total);
            if (!capture.Read(frame) || frame.Empty()) throw Truncated(path, position, total);
            position++;
            collector.Add(frame, index);
        }
        return collector.ToClip(FrameSampling.SampledFps(fps, total, wanted), indices);
    }

    private static VideoClip? ReadAll(VideoCapture capture, string path, double fps, VideoReadOptions options)
    {
        using var collector = new FrameCollector(path, options);
        using var frame = new Mat();
        while (capture.Read(frame) && !frame.Empty()) collector.Add(frame, collector.Count);
        return collector.Count == 0 ? null : collector.ToClip(fps, Enumerable.Range(0, collector.Count).ToArray());
    }

    private static int CountFrames(string path)
    {
        using var capture = Open(path);
        if (capture is null) return 0;
        int count = 0;
        while (capture.Grab()) count++;
        return count;
    }

    private static VideoCapture? Open(string path)
    {
        // A file OpenCV can't open makes it log a misleading warning ("backend ... can't be used to capture by name")
        // before we fall back to ffmpeg or report the file ourselves.
        var previous = Cv2.SetLogLevel(OpenCvSharp.LogLevel.ERROR);
        try
        {
            var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
            if (capture.IsOpened()) return capture;
            capture.Dispose();
            return null;
        }
        finally
        {
            Cv2.SetLogLevel(previous);
        }
    }

    private static VideoFormatException Truncated(string path, int position, int total) =>
        new($"{path}: decoding stopped at frame {position} of {total}; the file changed or is corrupt.");
}
