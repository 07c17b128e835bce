using MotionTune.Video;

namespace MotionTune.Pipelines;

/// <summary>
/// Reads a reference video as a pipeline consumes it: frames sampled evenly to the clip length, scaled to cover the
/// frame size and cut from the centre, with the pipeline's defaults for whatever is not given.
/// </summary>
public static class ReferenceVideo
{
    /// <summary>The read options for a clip of <paramref name="frames"/> × <paramref name="height"/> × <paramref name="width"/> (defaults from <paramref name="defaults"/>).</summary>
    /// <exception cref="ArgumentException">A size that is not positive.</exception>
    public static VideoReadOptions ReadOptions(PipelineDefaults defaults, int? frames = null, int? height = null, int? width = null)
    {
        int f = frames ?? defaults.Frames, h = height ?? defaults.Height, w = width ?? defaults.Width;
        if (f < 1 || h < 1 || w < 1) throw new ArgumentException($"--frames, --height and --width must be positive; got {f} x {h} x {w}.");
        return new VideoReadOptions { FrameCount = f, Height = h, Width = w, Resize = ResizeMode.CoverAndCenterCrop };
    }

    /// <summary>Reads <paramref name="path"/> (a video file or a folder of frames) for <paramref name="pipeline"/>.</summary>
    /// <exception cref="FileNotFoundException">No such video.</exception>
    /// <exception cref="VideoFormatException">An unreadable video.</exception>
    /// <exception cref="ArgumentException">A frame size that does not fit the pipeline's autoencoder.</exception>
    public static VideoClip Read(VideoPipeline pipeline, string path, int? frames = null, int? height = null, int? width = null)
    {
        var options = ReadOptions(pipeline.Defaults, frames, height, width);
        CheckSize(pipeline, options.FrameCount!.Value, options.Height!.Value, options.Width!.Value);
        return VideoFile.Read(path, options);
    }

    /// <summary>Checks that a clip of this size can go through the pipeline's autoencoder.</summary>
    /// <exception cref="ArgumentException">A side that is not a multiple of the spatial compression, or a frame count the VAE cannot take.</exception>
    public static void CheckSize(VideoPipeline pipeline, int frames, int height, int width)
    {
        int scale = pipeline.Autoencoder.SpatialCompression;
        if (height % scale != 0 || width % scale != 0)
            throw new ArgumentException($"--height {height} and --width {width} must be multiples of {scale} (the autoencoder's downsampling) for {pipeline.Folder}.");
        pipeline.Autoencoder.LatentFrames(frames); // throws for a frame count the VAE cannot take (CogVideoX: 4k + 1)
    }
}
