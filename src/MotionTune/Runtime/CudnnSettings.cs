using System.Runtime.InteropServices;

namespace MotionTune.Runtime;

/// <summary>
/// libtorch global settings that TorchSharp does not expose, set through libtorch's own C++ entry points
/// (<c>at::globalContext()</c>, present in every libtorch build).
/// </summary>
public static unsafe class CudnnSettings
{
    // Itanium-ABI names of at::globalContext() and at::Context::setBenchmarkCuDNN(bool).
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetBenchmarkSymbol = "_ZN2at7Context17setBenchmarkCuDNNEb";

    /// <summary>
    /// Turns cuDNN autotuning on or off (<c>torch.backends.cudnn.benchmark</c>): the first convolution of each shape
    /// tries the available algorithms and keeps the fastest. Returns false where the entry points are not found.
    /// </summary>
    public static bool SetBenchmark(bool enabled)
    {
        TorchRuntime.Initialize();
        var lib = FindLibTorchCpu();
        if (lib == IntPtr.Zero
            || !NativeLibrary.TryGetExport(lib, GlobalContext, out var getContext)
            || !NativeLibrary.TryGetExport(lib, SetBenchmarkSymbol, out var set)) return false;
        var context = ((delegate* unmanaged<IntPtr>)getContext)();
        ((delegate* unmanaged<IntPtr, byte, void>)set)(context, enabled ? (byte)1 : (byte)0);
        return true;
    }

    /// <summary>
    /// Allows or forbids the cuDNN backend of scaled-dot-product attention (<c>torch.backends.cuda.enable_cudnn_sdp</c>).
    /// Its backward pass fails on some shapes (tiny heads over very large batches, as in the ShapesWorld UNet's temporal
    /// attention), where flash or memory-efficient attention work. Returns false where the entry point is not found.
    /// </summary>
    public static bool SetSdpCudnn(bool enabled)
    {
        TorchRuntime.Initialize();
        var lib = FindLibTorchCpu();
        if (lib == IntPtr.Zero
            || !NativeLibrary.TryGetExport(lib, GlobalContext, out var getContext)
            || !NativeLibrary.TryGetExport(lib, "_ZN2at7Context14setSDPUseCuDNNEb", out var set)) return false;
        var context = ((delegate* unmanaged<IntPtr>)getContext)();
        ((delegate* unmanaged<IntPtr, byte, void>)set)(context, enabled ? (byte)1 : (byte)0);
        SdpCudnn = enabled;
        return true;
    }

    /// <summary>Whether the cuDNN attention backend is allowed, as last set by <see cref="SetSdpCudnn"/> (libtorch's default: yes).</summary>
    public static bool SdpCudnn { get; private set; } = true;

    private static IntPtr FindLibTorchCpu()
    {
        if (TorchRuntime.ExternalLibTorchDirectory is { } dir && NativeLibrary.TryLoad(Path.Combine(dir, "libtorch_cpu.so"), out var h)) return h;
        return NativeLibrary.TryLoad("libtorch_cpu.so", typeof(CudnnSettings).Assembly, null, out h) ? h : IntPtr.Zero;
    }
}
