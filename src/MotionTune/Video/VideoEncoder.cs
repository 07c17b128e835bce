using FFMpegCore;
using FFMpegCore.Enums;
using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.Video;

/// <summary>Encodes frames with the system ffmpeg: raw RGB frames go to a temporary file that ffmpeg reads.</summary>
internal static class VideoEncoder
{
    /// <summary>H.264 in mp4, yuv420p (what every player decodes); odd sizes are padded to even by repeating the last row / column.</summary>
    public static void WriteMp4(string path, Tensor frames, double fps, int crf)
    {
        using var even = PadToEven(frames);
        Encode(path, even, fps, "write it as H.264 mp4", o => o
            .WithVideoCodec(VideoCodec.LibX264)
            .WithPixelFormat("yuv420p")
            .WithConstantRateFactor(crf)
            .WithSpeedPreset(EncoderPreset.Medium)
            .WithFastStart()
            .ForceFormat("mp4"));
    }

    /// <summary>An infinitely looping GIF with one palette made for the whole clip (palettegen), applied with dithering (paletteuse).</summary>
    public static void WriteGif(string path, Tensor frames, double fps)
    {
        Encode(path, frames, fps, "write it as GIF", o => o
            .WithCustomArgument("-filter_complex \"[0:v]split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a\"")
            .WithCustomArgument("-loop 0")
            .ForceFormat("gif"));
    }

    private static void Encode(string path, Tensor frames, double fps, string action, Action<FFMpegOutputOptions> output)
    {
        int height = (int)frames.shape[1], width = (int)frames.shape[2];
        var raw = Path.Combine(Path.GetTempPath(), $"motiontune-{Environment.ProcessId}-{Guid.NewGuid():N}.rgb");
        try
        {
            WriteRaw(raw, frames);
            AtomicFile.WriteVia(path, tmp =>
            {
                var command = FFMpegArguments
                    .FromFileInput(raw, i => i
                        .ForceFormat("rawvideo")
                        .WithPixelFormat("rgb24")
                        .WithFrameSize(width, height)
                        .WithCustomArgument($"-framerate {Ffmpeg.Number(fps)}"))
                    .OutputToFile(tmp, overwrite: true, o =>
                    {
                        o.WithCustomArgument("-an");
                        output(o);
                    });
                Ffmpeg.Run(command, path, action);
            });
        }
        finally
        {
            File.Delete(raw);
        }
    }

    private static void WriteRaw(string path, Tensor frames)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        for (int i = 0; i < frames.shape[0]; i++)
        {
            using var frame = frames[i];
            stream.Write(frame.bytes);
        }
    }

    private static Tensor PadToEven(Tensor frames)
    {
        using var scope = NewDisposeScope();
        var padded = frames.alias();
        if (padded.shape[1] % 2 == 1) padded = cat([padded, padded.narrow(1, padded.shape[1] - 1, 1)], dim: 1);
        if (padded.shape[2] % 2 == 1) padded = cat([padded, padded.narrow(2, padded.shape[2] - 1, 1)], dim: 2);
        return padded.contiguous().MoveToOuterDisposeScope();
    }
}
