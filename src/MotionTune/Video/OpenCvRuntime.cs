using OpenCvSharp;

namespace MotionTune.Video;

/// <summary>Turns a missing OpenCV native library into an error that says what to do.</summary>
internal static class OpenCvRuntime
{
    private static readonly Lazy<Exception?> LoadError = new(() =>
    {
        try
        {
            Cv2.GetVersionString();
            return null;
        }
        catch (TypeInitializationException e) when (e.InnerException is DllNotFoundException missing)
        {
            return missing;
        }
        catch (DllNotFoundException missing)
        {
            return missing;
        }
    });

    /// <summary>Whether OpenCV's native library loads (it is optional on GPU hosts).</summary>
    public static bool IsAvailable => LoadError.Value is null;

    /// <summary>Throws unless OpenCV's native library loads; <paramref name="purpose"/> says what needed it.</summary>
    public static void EnsureAvailable(string purpose)
    {
        if (LoadError.Value is { } error)
            throw new InvalidOperationException(
                $"{purpose} needs OpenCV's native library (libOpenCvSharpExtern.so), which could not be loaded. " +
                "GPU bundles carry it only when published with WITH_OPENCV=1; on Debian/Ubuntu the libraries it needs " +
                $"come with scripts/setup.sh (libgtk-3-0 and others). Loader message: {error.Message}", error);
    }
}
