using System.Globalization;
using FFMpegCore;
using FFMpegCore.Exceptions;

namespace MotionTune.Video;

/// <summary>Runs the system ffmpeg / ffprobe (through FFMpegCore) and turns their failures into messages that name the file.</summary>
internal static class Ffmpeg
{
    /// <summary>Runs one ffmpeg command; <paramref name="subject"/> names the file in the error.</summary>
    public static void Run(FFMpegArgumentProcessor command, string subject, string action)
    {
        FFMpegResult result;
        try
        {
            result = command.ProcessSynchronously(throwOnError: false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new VideoFormatException($"{subject}: could not run ffmpeg to {action}: {e.Message}. Is ffmpeg installed and on the PATH (scripts/setup.sh)?", e);
        }
        if (!result.Success)
            throw new VideoFormatException($"{subject}: ffmpeg failed to {action} (exit {result.ExitCode}): {Tail(result.StandardError)}");
    }

    /// <summary>ffprobe's analysis of <paramref name="path"/>.</summary>
    public static IMediaAnalysis Probe(string path)
    {
        try
        {
            return FFProbe.Analyse(path);
        }
        catch (FFProbeProcessException e)
        {
            throw new VideoFormatException($"{path}: not a video that OpenCV or ffmpeg can read (corrupt or unsupported): {Tail(e.StandardError)}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not FileNotFoundException)
        {
            throw new VideoFormatException($"{path}: OpenCV could not decode it and ffprobe could not analyse it: {e.Message}. Is ffmpeg installed and on the PATH (scripts/setup.sh)?", e);
        }
    }

    /// <summary>A number as ffmpeg parses it (invariant culture, round-trip precision).</summary>
    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The lines of ffmpeg's log that say what went wrong (those naming an error), else its last lines.</summary>
    private static string Tail(IEnumerable<string>? lines)
    {
        var all = (lines ?? []).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => l.Trim()).ToArray();
        string[] markers = ["error", "invalid", "failed", "not found", "no such", "unrecognized", "unable", "cannot"];
        var errors = all.Where(l => markers.Any(m => l.Contains(m, StringComparison.OrdinalIgnoreCase))).Distinct().Take(3).ToArray();
        var kept = errors.Length > 0 ? errors : all.TakeLast(3).ToArray();
        return kept.Length == 0 ? "(no message)" : string.Join(" | ", kept);
    }
}
