using System.Runtime.InteropServices;
using System.Text;

namespace MotionTune.Runtime.Kernels;

/// <summary>A CUDA source that NVRTC rejected, or an NVRTC that cannot be used; the message carries the compiler log.</summary>
public sealed class KernelCompilationException(string message) : Exception(message);

/// <summary>
/// NVIDIA's run-time compiler, loaded from the CUDA install that the libtorch in use came with: a PyTorch wheel's
/// <c>nvidia/*/lib</c> folders next to <c>torch/lib</c>, then <c>$CUDA_HOME</c>, <c>/usr/local/cuda</c>, then the
/// loader's search path (<c>MOTIONTUNE_NVRTC</c> names the library explicitly). The CUDA major version of the libtorch
/// (<c>+cu130</c> → 13) is preferred.
/// </summary>
public static unsafe class Nvrtc
{
    /// <summary>Environment variable naming the NVRTC library to use (a path to <c>libnvrtc.so.*</c>).</summary>
    public const string LibraryEnvironmentVariable = "MOTIONTUNE_NVRTC";

    private static readonly Lazy<(IntPtr Handle, string Path)> Library = new(Load);

    /// <summary>The NVRTC library loaded (loads it on first use).</summary>
    public static string LibraryPath => Library.Value.Path;

    /// <summary>True when an NVRTC library can be loaded (the load is attempted once).</summary>
    public static bool Available
    {
        get
        {
            try { _ = Library.Value; return true; }
            catch (KernelCompilationException) { return false; }
        }
    }

    /// <summary>NVRTC's version, e.g. (13, 0).</summary>
    public static (int Major, int Minor) Version
    {
        get
        {
            int major, minor;
            Check(((delegate* unmanaged<int*, int*, int>)Fn("nvrtcVersion"))(&major, &minor), "nvrtcVersion");
            return (major, minor);
        }
    }

    /// <summary>
    /// Compiles <paramref name="source"/> to a cubin for compute capability <paramref name="major"/>.<paramref name="minor"/>.
    /// </summary>
    /// <exception cref="KernelCompilationException">NVRTC rejected the source or the options; the message has the log.</exception>
    public static byte[] Compile(string source, string name, int major, int minor)
    {
        string[] options = [$"--gpu-architecture=sm_{major}{minor}", "--std=c++17"];
        IntPtr program;
        var src = Marshal.StringToCoTaskMemUTF8(source);
        var programName = Marshal.StringToCoTaskMemUTF8(name);
        var optionPointers = options.Select(Marshal.StringToCoTaskMemUTF8).ToArray();
        try
        {
            Check(((delegate* unmanaged<IntPtr*, IntPtr, IntPtr, int, IntPtr, IntPtr, int>)Fn("nvrtcCreateProgram"))(
                &program, src, programName, 0, IntPtr.Zero, IntPtr.Zero), "nvrtcCreateProgram");
            try
            {
                int status;
                fixed (IntPtr* opts = optionPointers)
                    status = ((delegate* unmanaged<IntPtr, int, IntPtr*, int>)Fn("nvrtcCompileProgram"))(program, options.Length, opts);
                if (status != 0)
                    throw new KernelCompilationException(
                        $"NVRTC ({LibraryPath}) could not compile {name} for sm_{major}{minor} ({ErrorString(status)}; options " +
                        $"{string.Join(' ', options)}):\n{Log(program)}\nSet MOTIONTUNE_FUSED_KERNELS=0 to run without the fused kernels.");
                nuint size;
                Check(((delegate* unmanaged<IntPtr, nuint*, int>)Fn("nvrtcGetCUBINSize"))(program, &size), "nvrtcGetCUBINSize");
                var cubin = new byte[(int)size];
                fixed (byte* p = cubin)
                    Check(((delegate* unmanaged<IntPtr, byte*, int>)Fn("nvrtcGetCUBIN"))(program, p), "nvrtcGetCUBIN");
                return cubin;
            }
            finally
            {
                ((delegate* unmanaged<IntPtr*, int>)Fn("nvrtcDestroyProgram"))(&program);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(src);
            Marshal.FreeCoTaskMem(programName);
            foreach (var p in optionPointers) Marshal.FreeCoTaskMem(p);
        }
    }

    private static string Log(IntPtr program)
    {
        nuint size;
        if (((delegate* unmanaged<IntPtr, nuint*, int>)Fn("nvrtcGetProgramLogSize"))(program, &size) != 0 || size == 0) return "(no log)";
        var log = new byte[(int)size];
        fixed (byte* p = log) ((delegate* unmanaged<IntPtr, byte*, int>)Fn("nvrtcGetProgramLog"))(program, p);
        return Encoding.UTF8.GetString(log).TrimEnd('\0', '\n');
    }

    private static string ErrorString(int status)
    {
        var text = ((delegate* unmanaged<int, IntPtr>)Fn("nvrtcGetErrorString"))(status);
        return text == IntPtr.Zero ? $"NVRTC error {status}" : Marshal.PtrToStringUTF8(text) ?? $"NVRTC error {status}";
    }

    private static void Check(int status, string call)
    {
        if (status != 0) throw new KernelCompilationException($"{call} failed: {ErrorString(status)} (NVRTC at {LibraryPath}).");
    }

    private static IntPtr Fn(string name) => NativeLibrary.GetExport(Library.Value.Handle, name);

    /// <summary>The places looked at, in order: (folder or null for the loader's search path, file name).</summary>
    internal static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable(LibraryEnvironmentVariable) is { Length: > 0 } explicitPath)
        {
            yield return explicitPath;
            yield break;
        }
        var majors = PreferredMajors();
        var folders = new List<string>();
        if (TorchRuntime.ExternalLibTorchDirectory is { } torchLib)
        {
            // site-packages/torch/lib -> site-packages/nvidia/<package>/lib (cu12: cuda_nvrtc, cu13: cu13)
            var nvidia = Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia"));
            if (Directory.Exists(nvidia))
                folders.AddRange(Directory.EnumerateDirectories(nvidia).Order(StringComparer.Ordinal).Select(d => Path.Combine(d, "lib")));
            folders.Add(torchLib);
        }
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } home)
                folders.AddRange([Path.Combine(home, "lib64"), Path.Combine(home, "targets", "x86_64-linux", "lib")]);
        folders.AddRange(["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"]);
        foreach (var major in majors)
            foreach (var folder in folders)
            {
                var file = Path.Combine(folder, $"libnvrtc.so.{major}");
                if (File.Exists(file)) yield return file;
                else if (Directory.Exists(folder))
                    foreach (var versioned in Directory.EnumerateFiles(folder, $"libnvrtc.so.{major}.*").Order(StringComparer.Ordinal))
                        yield return versioned;
            }
        foreach (var major in majors) yield return $"libnvrtc.so.{major}"; // the loader's search path
        yield return "libnvrtc.so";
    }

    private static int[] PreferredMajors()
    {
        int[] known = [13, 12];
        var match = System.Text.RegularExpressions.Regex.Match(TorchRuntime.LibTorchVersion, @"\+cu(\d\d)");
        if (!match.Success) return known;
        int torchMajor = int.Parse(match.Groups[1].Value);
        return [torchMajor, .. known.Where(m => m != torchMajor)];
    }

    private static (IntPtr, string) Load()
    {
        TorchRuntime.Initialize();
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (Path.IsPathRooted(candidate) && Path.GetDirectoryName(candidate) is { } folder)
            {
                // NVRTC opens its builtins library by name at compile time: load the one beside it (same version) first.
                var major = System.Text.RegularExpressions.Regex.Match(Path.GetFileName(candidate), @"\.so\.(\d+)").Groups[1].Value;
                if (Directory.Exists(folder))
                    foreach (var builtins in Directory.EnumerateFiles(folder, $"libnvrtc-builtins.so.{major}*").Order(StringComparer.Ordinal))
                        if (NativeLibrary.TryLoad(builtins, out _)) break;
            }
            if (NativeLibrary.TryLoad(candidate, out var handle)) return (handle, candidate);
        }
        throw new KernelCompilationException(
            "NVRTC (libnvrtc.so) was not found; the fused CUDA kernels need it. Looked for: " + string.Join(", ", tried) +
            $". Install the CUDA runtime compiler of your CUDA version (pip: nvidia-cuda-nvrtc), point {LibraryEnvironmentVariable} " +
            "at libnvrtc.so.*, or set MOTIONTUNE_FUSED_KERNELS=0 to run without the fused kernels.");
    }
}
