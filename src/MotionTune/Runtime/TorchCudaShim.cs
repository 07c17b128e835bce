using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace MotionTune.Runtime;

/// <summary>
/// The small C++ library (<c>build/native/torch_cuda_shim.cpp</c>, shipped next to the app) through which MotionTune
/// reaches what TorchSharp does not expose of PyTorch's CUDA runtime: allocator statistics (<see cref="CudaMemory"/>) and
/// CUDA graphs (<see cref="CudaGraph"/>). It is compiled once against the headers of the PyTorch install in use, with the
/// host's g++, and cached under <c>~/.cache/motiontune</c>; <see cref="LibraryEnvironmentVariable"/> names a prebuilt
/// copy instead. Where that is impossible (bundled CPU libtorch, no headers, no compiler) <see cref="Available"/> is
/// false and <see cref="UnavailableReason"/> says why.
/// </summary>
internal static class TorchCudaShim
{
    /// <summary>Environment variable naming a prebuilt shim library, used instead of compiling one.</summary>
    public const string LibraryEnvironmentVariable = "MOTIONTUNE_TORCH_CUDA_SHIM";

    private static readonly Lazy<IntPtr> Library = new(Load);
    private static string? _failure;

    /// <summary>True when the shim is loaded.</summary>
    public static bool Available => Library.Value != IntPtr.Zero;

    /// <summary>Why the shim is unavailable, if it is.</summary>
    public static string? UnavailableReason => Available ? null : _failure;

    /// <summary>The address of entry point <paramref name="name"/>.</summary>
    /// <exception cref="InvalidOperationException">The shim is unavailable (with the reason).</exception>
    public static IntPtr Export(string name)
    {
        var lib = Library.Value;
        if (lib == IntPtr.Zero) throw new InvalidOperationException($"PyTorch's CUDA runtime extensions are unavailable: {_failure}");
        return NativeLibrary.GetExport(lib, name);
    }

    /// <summary>The message of the shim's last failed call on this thread.</summary>
    public static unsafe string LastError() =>
        Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)Export("motiontune_last_error"))()) ?? "(no message)";

    private static IntPtr Load()
    {
        TorchRuntime.Initialize();
        if (!TorchRuntime.CudaAvailable) { _failure = "CUDA is not in use"; return IntPtr.Zero; }
        if (Environment.GetEnvironmentVariable(LibraryEnvironmentVariable) is { Length: > 0 } given)
            return NativeLibrary.TryLoad(given, out var h) ? h : Fail($"could not load {given} ({LibraryEnvironmentVariable})");

        var source = Path.Combine(AppContext.BaseDirectory, "torch_cuda_shim.cpp");
        var libDir = TorchRuntime.ExternalLibTorchDirectory;
        if (!File.Exists(source)) return Fail($"{source} is missing");
        if (libDir is null) return Fail("the libtorch in use is not an external PyTorch install");
        var include = Path.GetFullPath(Path.Combine(libDir, "..", "include"));
        if (!Directory.Exists(Path.Combine(include, "c10"))) return Fail($"no PyTorch headers at {include}");

        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(libDir + File.ReadAllText(source))))[..16];
        var cacheDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "motiontune", key);
        var output = Path.Combine(cacheDir, "libmotiontune_torch_cuda.so");
        if (!File.Exists(output))
        {
            Directory.CreateDirectory(cacheDir);
            var tmp = output + $".{Environment.ProcessId}.tmp";
            var cudaIncludes = string.Join(' ', CudaIncludeDirectories(libDir).Select(d => $"-I{d}"));
            var args = $"-O2 -std=c++17 -shared -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 -I{include} {cudaIncludes} {source} " +
                       $"-L{libDir} -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -Wl,-rpath,{libDir} -o {tmp}";
            try
            {
                using var process = Process.Start(new ProcessStartInfo("g++", args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                var errors = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    var log = errors.Result;
                    return Fail($"g++ failed: {log.Split('\n').FirstOrDefault(l => l.Contains("error")) ?? log}");
                }
                File.Move(tmp, output, overwrite: true);
            }
            catch (System.ComponentModel.Win32Exception) { return Fail("g++ is not installed"); }
        }
        return NativeLibrary.TryLoad(output, out var handle) ? handle : Fail($"could not load {output}");
    }

    /// <summary>Where the CUDA runtime headers may be: a system toolkit, or the nvidia-* wheels beside torch.</summary>
    private static IEnumerable<string> CudaIncludeDirectories(string libDir)
    {
        if (Directory.Exists("/usr/local/cuda/include")) yield return "/usr/local/cuda/include";
        var nvidia = Path.GetFullPath(Path.Combine(libDir, "..", "..", "nvidia"));
        if (!Directory.Exists(nvidia)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(nvidia, "include", SearchOption.AllDirectories))
            if (File.Exists(Path.Combine(dir, "cuda_runtime_api.h"))) yield return dir;
    }

    private static IntPtr Fail(string reason)
    {
        _failure = reason;
        return IntPtr.Zero;
    }
}
