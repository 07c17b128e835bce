using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace MotionTune.Runtime;

/// <summary>
/// CUDA memory statistics of PyTorch's caching allocator (peak and current allocated/reserved bytes, as
/// <c>torch.cuda.max_memory_allocated</c> reports them). TorchSharp has none, so a 20-line C++ shim
/// (<c>build/native/cuda_memstats.cpp</c>, shipped next to the app) is compiled once against the headers of the PyTorch
/// install in use, with the host's g++, and cached under <c>~/.cache/motiontune</c>. Where that is impossible
/// (no headers, no compiler) <see cref="Available"/> is false and callers fall back to
/// <see cref="GpuInfo.MemGetInfo"/> (device-wide memory in use).
/// </summary>
public static unsafe class CudaMemory
{
    private static readonly Lazy<IntPtr> Library = new(Load);
    private static string? _failure;

    /// <summary>True when allocator statistics can be read.</summary>
    public static bool Available => Library.Value != IntPtr.Zero;

    /// <summary>Why statistics are unavailable, if they are.</summary>
    public static string? UnavailableReason => Available ? null : _failure;

    /// <summary>Bytes held by live tensors on <paramref name="device"/>; the peak since the last reset when <paramref name="peak"/>.</summary>
    public static long AllocatedBytes(int device = 0, bool peak = false) =>
        Call<long>("motiontune_allocated_bytes", f => ((delegate* unmanaged<int, int, long>)f)(device, peak ? 1 : 0));

    /// <summary>Bytes the allocator has reserved from the driver; the peak since the last reset when <paramref name="peak"/>.</summary>
    public static long ReservedBytes(int device = 0, bool peak = false) =>
        Call<long>("motiontune_reserved_bytes", f => ((delegate* unmanaged<int, int, long>)f)(device, peak ? 1 : 0));

    /// <summary>Starts a new peak measurement.</summary>
    public static void ResetPeak(int device = 0) =>
        Call<int>("motiontune_reset_peak", f => { ((delegate* unmanaged<int, void>)f)(device); return 0; });

    /// <summary>Returns cached, unused blocks to the driver.</summary>
    public static void EmptyCache() =>
        Call<int>("motiontune_empty_cache", f => { ((delegate* unmanaged<void>)f)(); return 0; });

    private static T Call<T>(string name, Func<IntPtr, T> call)
    {
        var lib = Library.Value;
        if (lib == IntPtr.Zero) throw new InvalidOperationException($"CUDA allocator statistics are unavailable: {_failure}");
        return call(NativeLibrary.GetExport(lib, name));
    }

    private static IntPtr Load()
    {
        TorchRuntime.Initialize();
        if (!TorchRuntime.CudaAvailable) { _failure = "CUDA is not in use"; return IntPtr.Zero; }
        if (Environment.GetEnvironmentVariable("MOTIONTUNE_CUDA_MEMSTATS") is { Length: > 0 } given)
            return NativeLibrary.TryLoad(given, out var h) ? h : Fail($"could not load {given}");

        var source = Path.Combine(AppContext.BaseDirectory, "cuda_memstats.cpp");
        var libDir = TorchRuntime.ExternalLibTorchDirectory;
        if (!File.Exists(source)) return Fail($"{source} is missing");
        if (libDir is null) return Fail("the libtorch in use is not an external PyTorch install");
        var include = Path.GetFullPath(Path.Combine(libDir, "..", "include"));
        if (!Directory.Exists(Path.Combine(include, "c10"))) return Fail($"no PyTorch headers at {include}");

        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(libDir + File.ReadAllText(source))))[..16];
        var cacheDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "motiontune", key);
        var output = Path.Combine(cacheDir, "libmotiontune_cudamem.so");
        if (!File.Exists(output))
        {
            Directory.CreateDirectory(cacheDir);
            var cudaInclude = Directory.Exists("/usr/local/cuda/include") ? "-I/usr/local/cuda/include" : "";
            var tmp = output + $".{Environment.ProcessId}.tmp";
            var args = $"-O2 -std=c++17 -shared -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 -I{include} {cudaInclude} {source} " +
                       $"-L{libDir} -lc10 -lc10_cuda -Wl,-rpath,{libDir} -o {tmp}";
            try
            {
                using var process = Process.Start(new ProcessStartInfo("g++", args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                var errors = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) return Fail($"g++ failed: {errors.Split('\n').FirstOrDefault(l => l.Contains("error")) ?? errors}");
                File.Move(tmp, output, overwrite: true);
            }
            catch (System.ComponentModel.Win32Exception) { return Fail("g++ is not installed"); }
        }
        return NativeLibrary.TryLoad(output, out var handle) ? handle : Fail($"could not load {output}");
    }

    private static IntPtr Fail(string reason)
    {
        _failure = reason;
        return IntPtr.Zero;
    }
}
