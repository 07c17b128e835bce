using FFMpegCore;
using FFMpegCore.Enums;

namespace MotionTune.Video;

/// <summary>
/// The fallback decoder: the system ffmpeg writes the video's frames as PNG files into a temporary folder, read as a
/// frame folder. It covers what OpenCV's bundled FFmpeg lacks (AV1, for one).
/// </summary>
internal static class FfmpegDecoder
{
    /// <summary>Decodes <paramref name="path"/>'s first video stream.</summary>
    public static VideoClip Read(string path, VideoReadOptions options)
    {
        var info = Ffmpeg.Probe(path);
        var stream = info.PrimaryVideoStream ?? throw new VideoFormatException($"{path}: has no video stream.");
        double fps = stream.AverageFrameRate is > 0 and < 1000 ? stream.AverageFrameRate
            : stream.RealFrameRate is > 0 and < 1000 ? stream.RealFrameRate : options.FallbackFps;

        var folder = Directory.CreateTempSubdirectory("motiontune-decode-").FullName;
        try
        {
            var command = FFMpegArguments
                .FromFileInput(path)
                .OutputToFile(Path.Combine(folder, "%08d.png"), overwrite: true, o => o
                    .WithCustomArgument("-map 0:v:0")
                    .WithFpsMode(FpsMode.Passthrough) // one PNG per decoded frame, none duplicated or dropped
                    .ForceFormat("image2"));
            Ffmpeg.Run(command, path, "decode it");
            if (FrameFolder.FrameFiles(folder).Length == 0) throw new VideoFormatException($"{path}: ffmpeg decoded no frames.");
            return FrameFolder.Read(folder, options with { FallbackFps = fps }, describe: path);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
