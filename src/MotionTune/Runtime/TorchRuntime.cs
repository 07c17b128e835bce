using System.Runtime.InteropServices;
using TorchSharp;

namespace MotionTune.Runtime;

/// <summary>Where the native libtorch comes from.</summary>
public enum LibTorchSource
{
    /// <summary>The libtorch-cpu package shipped next to the application.</summary>
    Bundled,
    /// <summary>An existing PyTorch install (e.g. its CUDA build), loaded from its <c>torch/lib</c> folder.</summary>
    External,
}

/// <summary>
/// Chooses and loads the native libtorch before TorchSharp first touches it.
/// </summary>
/// <remarks>
/// TorchSharp binds to whichever <c>libtorch.so</c> the dynamic loader resolves for
/// <c>libLibTorchSharp.so</c>. Loading an install's libraries by absolute path first makes the loader
/// reuse them (it matches loaded libraries by soname), so a PyTorch install's CUDA libtorch can be
/// used without setting <c>LD_LIBRARY_PATH</c>. The choice, in order: an explicit folder, the
/// <see cref="LibTorchEnvironmentVariable"/> variable, the bundled libtorch-cpu if the app ships it,
/// and finally a PyTorch install found next to <c>python3</c> on the PATH or in a virtual environment.
/// </remarks>
public static class TorchRuntime
{
    /// <summary>Environment variable naming a PyTorch <c>torch/lib</c> folder (or <c>auto</c>, or <c>bundled</c>).</summary>
    public const string LibTorchEnvironmentVariable = "MOTIONTUNE_LIBTORCH";

    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>Where libtorch was loaded from, once <see cref="Initialize"/> ran.</summary>
    public static LibTorchSource Source { get; private set; } = LibTorchSource.Bundled;

    /// <summary>The external <c>torch/lib</c> folder in use, if any.</summary>
    public static string? ExternalLibTorchDirectory { get; private set; }

    /// <summary>True once CUDA was initialised successfully.</summary>
    public static bool CudaAvailable { get; private set; }

    /// <summary>
    /// Loads libtorch. Idempotent; call it before any other TorchSharp use.
    /// </summary>
    /// <param name="libTorchDirectory">A PyTorch <c>torch/lib</c> folder, <c>auto</c>, <c>bundled</c>, or null for the default order.</param>
    public static void Initialize(string? libTorchDirectory = null)
    {
        lock (Gate)
        {
            if (_initialized) return;
            var requested = libTorchDirectory ?? Environment.GetEnvironmentVariable(LibTorchEnvironmentVariable);
            string? external = requested switch
            {
                null or "" => BundledLibTorchPresent() ? null : FindPythonLibTorch(),
                "bundled" => null,
                "auto" => FindPythonLibTorch() ?? throw new InvalidOperationException(
                    $"{LibTorchEnvironmentVariable}=auto: no PyTorch install was found (looked next to python3 on PATH, " +
                    "in $VIRTUAL_ENV and $CONDA_PREFIX). Set it to the install's torch/lib folder."),
                _ => ValidateLibTorchDirectory(requested),
            };
            if (external is not null) PreloadExternal(external);
            CudaAvailable = external is not null && torch.TryInitializeDeviceType(DeviceType.CUDA);
            if (!CudaAvailable) torch.InitializeDeviceType(DeviceType.CPU);
            _initialized = true;
        }
    }

    /// <summary>The default compute device: CUDA when available, else CPU.</summary>
    public static torch.Device DefaultDevice
    {
        get { Initialize(); return CudaAvailable ? torch.CUDA : torch.CPU; }
    }

    /// <summary>Parses a device string (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>, <c>auto</c>) and checks it exists.</summary>
    public static torch.Device ParseDevice(string? name)
    {
        Initialize();
        if (string.IsNullOrEmpty(name) || name == "auto") return DefaultDevice;
        torch.Device device;
        try { device = new torch.Device(name); }
        catch (Exception e) { throw new ArgumentException($"'{name}' is not a device (expected cpu, cuda, cuda:N or auto).", e); }
        if (device.type == DeviceType.CUDA && !CudaAvailable)
            throw new ArgumentException(
                $"Device '{name}' was requested but CUDA is not available: the libtorch in use ({Describe()}) " +
                $"has no CUDA. Point {LibTorchEnvironmentVariable} at a CUDA PyTorch install's torch/lib folder.");
        return device;
    }

    /// <summary>
    /// The version of the libtorch in use: for an external install, what its <c>torch/version.py</c> says
    /// (e.g. <c>2.11.0+cu130</c>); for the bundled one, the libtorch-cpu package version.
    /// </summary>
    public static string LibTorchVersion
    {
        get
        {
            Initialize();
            if (ExternalLibTorchDirectory is { } dir)
            {
                var versionFile = Path.Combine(dir, "..", "version.py");
                if (File.Exists(versionFile))
                {
                    var match = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(versionFile), @"__version__\s*=\s*['""]([^'""]+)['""]");
                    if (match.Success) return match.Groups[1].Value;
                }
                return "unknown (no torch/version.py beside the library folder)";
            }
            return torch.__version__;
        }
    }

    /// <summary>A one-line description of the libtorch in use.</summary>
    public static string Describe() => Source == LibTorchSource.External
        ? $"external libtorch at {ExternalLibTorchDirectory}"
        : "bundled libtorch-cpu";

    private static bool BundledLibTorchPresent()
    {
        var baseDir = AppContext.BaseDirectory;
        return File.Exists(Path.Combine(baseDir, "libtorch_cpu.so"))
            || File.Exists(Path.Combine(baseDir, "runtimes", "linux-x64", "native", "libtorch_cpu.so"));
    }

    private static string ValidateLibTorchDirectory(string dir)
    {
        var full = Path.GetFullPath(dir);
        if (!File.Exists(Path.Combine(full, "libtorch.so")))
            throw new DirectoryNotFoundException(
                $"{LibTorchEnvironmentVariable}: '{full}' does not contain libtorch.so; expected a PyTorch install's torch/lib folder " +
                "(e.g. .venv/lib/python3.12/site-packages/torch/lib).");
        return full;
    }

    /// <summary>Looks for <c>site-packages/torch/lib</c> under likely Python prefixes. Cheap: no process is started.</summary>
    public static string? FindPythonLibTorch()
    {
        var prefixes = new List<string>();
        foreach (var variable in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } p) prefixes.Add(p);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "python3")) && Path.GetDirectoryName(dir) is { } prefix) prefixes.Add(prefix);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) prefixes.Add(Path.Combine(home, ".local"));

        foreach (var prefix in prefixes.Distinct())
        {
            var lib = Path.Combine(prefix, "lib");
            if (!Directory.Exists(lib)) continue;
            foreach (var py in Directory.EnumerateDirectories(lib, "python3*").OrderDescending())
            {
                var candidate = Path.Combine(py, "site-packages", "torch", "lib");
                if (File.Exists(Path.Combine(candidate, "libtorch.so"))) return candidate;
            }
        }
        return null;
    }

    private static void PreloadExternal(string dir)
    {
        // Dependencies first; CUDA parts only where the install has them.
        string[] order = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];
        foreach (var name in order)
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            if (!NativeLibrary.TryLoad(path, out _))
                throw new DllNotFoundException($"Could not load {path}. Is it a libtorch for this platform with its CUDA libraries installed?");
        }
        Source = LibTorchSource.External;
        ExternalLibTorchDirectory = dir;
    }
}
