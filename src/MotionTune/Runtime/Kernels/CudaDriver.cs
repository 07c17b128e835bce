using System.Runtime.InteropServices;

namespace MotionTune.Runtime.Kernels;

/// <summary>A CUDA driver call that failed; the message names the call and the driver's error.</summary>
public sealed class CudaDriverException(string message) : Exception(message);

/// <summary>
/// The few CUDA driver API calls that loading and launching our own kernels needs (<c>libcuda.so.1</c>). Kernels run in
/// the device's primary context, which is the one libtorch's CUDA runtime uses, and on the stream where libtorch queues
/// this thread's work (stream 0, the legacy default stream, except while a <see cref="CudaGraph"/> is captured), so they
/// are ordered with the surrounding tensor operations.
/// </summary>
internal static unsafe class CudaDriver
{
    private const int AttributeMultiprocessorCount = 16;
    private const int AttributeComputeCapabilityMajor = 75;
    private const int AttributeComputeCapabilityMinor = 76;

    private static readonly Lazy<IntPtr> Library = new(() =>
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var handle))
            throw new CudaDriverException("The CUDA driver library libcuda.so.1 could not be loaded.");
        Check(((delegate* unmanaged<uint, int>)NativeLibrary.GetExport(handle, "cuInit"))(0), "cuInit", handle);
        return handle;
    });

    private static readonly Dictionary<int, IntPtr> Contexts = [];
    private static readonly Dictionary<string, IntPtr> Exports = [];

    /// <summary>Compute capability (major, minor) of device <paramref name="device"/>.</summary>
    public static (int Major, int Minor) ComputeCapability(int device) =>
        (Attribute(device, AttributeComputeCapabilityMajor), Attribute(device, AttributeComputeCapabilityMinor));

    /// <summary>Streaming multiprocessors of device <paramref name="device"/>.</summary>
    public static int MultiprocessorCount(int device) => Attribute(device, AttributeMultiprocessorCount);

    /// <summary>Loads a cubin into the device's primary context.</summary>
    public static IntPtr LoadModule(int device, byte[] image)
    {
        using var _ = new Current(device);
        IntPtr module;
        fixed (byte* p = image)
            Check(((delegate* unmanaged<IntPtr*, byte*, int>)Fn("cuModuleLoadData"))(&module, p), "cuModuleLoadData");
        return module;
    }

    /// <summary>A kernel of a loaded module, by its (unmangled, <c>extern "C"</c>) name.</summary>
    public static IntPtr Function(IntPtr module, string name)
    {
        IntPtr function;
        var text = Marshal.StringToCoTaskMemUTF8(name);
        try { Check(((delegate* unmanaged<IntPtr*, IntPtr, IntPtr, int>)Fn("cuModuleGetFunction"))(&function, module, text), $"cuModuleGetFunction({name})"); }
        finally { Marshal.FreeCoTaskMem(text); }
        return function;
    }

    /// <summary>Queues <paramref name="function"/> on libtorch's current stream of <paramref name="device"/>; <paramref name="arguments"/> point at each argument's value.</summary>
    public static void Launch(int device, IntPtr function, (uint X, uint Y, uint Z) grid, uint block, IntPtr* arguments, string name)
    {
        using var _ = new Current(device);
        Check(((delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, IntPtr*, IntPtr*, int>)Fn("cuLaunchKernel"))(
            function, grid.X, grid.Y, grid.Z, block, 1, 1, 0, CudaGraph.CurrentStream, arguments, null), $"cuLaunchKernel({name})");
    }

    private static int Attribute(int device, int attribute)
    {
        int dev, value;
        Check(((delegate* unmanaged<int*, int, int>)Fn("cuDeviceGet"))(&dev, device), "cuDeviceGet");
        Check(((delegate* unmanaged<int*, int, int, int>)Fn("cuDeviceGetAttribute"))(&value, attribute, dev), "cuDeviceGetAttribute");
        return value;
    }

    /// <summary>Makes the device's primary context current for a call, restoring the previous one after.</summary>
    private readonly struct Current : IDisposable
    {
        private readonly bool _pushed;

        public Current(int device)
        {
            var context = PrimaryContext(device);
            IntPtr current;
            Check(((delegate* unmanaged<IntPtr*, int>)Fn("cuCtxGetCurrent"))(&current), "cuCtxGetCurrent");
            if (current == context) return;
            Check(((delegate* unmanaged<IntPtr, int>)Fn("cuCtxPushCurrent_v2"))(context), "cuCtxPushCurrent");
            _pushed = true;
        }

        public void Dispose()
        {
            if (!_pushed) return;
            IntPtr popped;
            Check(((delegate* unmanaged<IntPtr*, int>)Fn("cuCtxPopCurrent_v2"))(&popped), "cuCtxPopCurrent");
        }
    }

    private static IntPtr PrimaryContext(int device)
    {
        lock (Contexts)
        {
            if (Contexts.TryGetValue(device, out var context)) return context;
            int dev;
            Check(((delegate* unmanaged<int*, int, int>)Fn("cuDeviceGet"))(&dev, device), "cuDeviceGet");
            // Retained for the life of the process, as the CUDA runtime (libtorch) keeps it.
            Check(((delegate* unmanaged<IntPtr*, int, int>)Fn("cuDevicePrimaryCtxRetain"))(&context, dev), "cuDevicePrimaryCtxRetain");
            return Contexts[device] = context;
        }
    }

    private static IntPtr Fn(string name)
    {
        lock (Exports)
        {
            if (!Exports.TryGetValue(name, out var f)) Exports[name] = f = NativeLibrary.GetExport(Library.Value, name);
            return f;
        }
    }

    private static void Check(int status, string call) => Check(status, call, Library.Value);

    private static void Check(int status, string call, IntPtr library)
    {
        if (status == 0) return;
        IntPtr name = IntPtr.Zero, text = IntPtr.Zero;
        if (NativeLibrary.TryGetExport(library, "cuGetErrorName", out var getName)) ((delegate* unmanaged<int, IntPtr*, int>)getName)(status, &name);
        if (NativeLibrary.TryGetExport(library, "cuGetErrorString", out var getText)) ((delegate* unmanaged<int, IntPtr*, int>)getText)(status, &text);
        var what = name == IntPtr.Zero ? $"CUDA error {status}" : $"{Marshal.PtrToStringUTF8(name)} ({status}): {Marshal.PtrToStringUTF8(text)}";
        throw new CudaDriverException($"{call} failed: {what}.");
    }
}
