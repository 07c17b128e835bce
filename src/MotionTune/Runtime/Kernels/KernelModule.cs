using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Runtime.Kernels;

/// <summary>One kernel argument: an integer, a float or a pointer, stored in 8 bytes as the driver reads it.</summary>
internal readonly struct KernelArg
{
    private readonly long _bits;
    private KernelArg(long bits) => _bits = bits;

    public static implicit operator KernelArg(long value) => new(value);
    // 32-bit arguments occupy the low (first, little-endian) four bytes.
    public static implicit operator KernelArg(int value) => new((uint)value);
    public static implicit operator KernelArg(float value) => new((uint)BitConverter.SingleToInt32Bits(value));
    public static implicit operator KernelArg(IntPtr value) => new(value.ToInt64());
}

/// <summary>
/// <see cref="KernelSource"/> compiled once per process for each compute capability and loaded once per device; kernels
/// launched on TorchSharp tensors' device memory. Compilation or launch failures throw (with NVRTC's log): callers never
/// fall back silently from a kernel that was chosen.
/// </summary>
internal static unsafe class KernelModule
{
    private static readonly object Gate = new();
    private static readonly Dictionary<(int Major, int Minor), byte[]> Cubins = [];
    private static readonly Dictionary<int, IntPtr> Modules = [];
    private static readonly Dictionary<(int Device, string Name), IntPtr> Functions = [];
    private static readonly Dictionary<int, int> Multiprocessors = [];

    /// <summary>Streaming multiprocessors of <paramref name="device"/> (cached).</summary>
    public static int MultiprocessorCount(int device)
    {
        lock (Gate)
        {
            if (!Multiprocessors.TryGetValue(device, out var count)) Multiprocessors[device] = count = CudaDriver.MultiprocessorCount(device);
            return count;
        }
    }

    /// <summary>Compiles (first time) and loads the kernels for <paramref name="device"/>; returns the entry <paramref name="name"/>.</summary>
    public static IntPtr Function(int device, string name)
    {
        lock (Gate)
        {
            if (Functions.TryGetValue((device, name), out var function)) return function;
            if (!Modules.TryGetValue(device, out var module))
            {
                var capability = CudaDriver.ComputeCapability(device);
                if (!Cubins.TryGetValue(capability, out var cubin))
                    Cubins[capability] = cubin = Nvrtc.Compile(KernelSource.Code, "motiontune_fused.cu", capability.Major, capability.Minor);
                Modules[device] = module = CudaDriver.LoadModule(device, cubin);
            }
            return Functions[(device, name)] = CudaDriver.Function(module, name);
        }
    }

    /// <summary>Queues kernel <paramref name="name"/> on libtorch's current stream of <paramref name="device"/>.</summary>
    public static void Launch(int device, string name, (uint X, uint Y) grid, uint block, params KernelArg[] args)
    {
        if (grid.X == 0 || grid.Y == 0) return;
        var function = Function(device, name);
        var pointers = stackalloc IntPtr[args.Length];
        fixed (KernelArg* values = args)
        {
            for (int i = 0; i < args.Length; i++) pointers[i] = (IntPtr)(values + i);
            CudaDriver.Launch(device, function, (grid.X, grid.Y, 1), block, pointers, name);
        }
    }

    private static readonly Lazy<IntPtr> DataExport = new(() =>
    {
        // TorchSharp's own native library, resolved as its P/Invokes resolve it (already loaded by then).
        string[] fallbacks =
        [
            Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"),
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
        ];
        if (!NativeLibrary.TryLoad("LibTorchSharp", typeof(torch).Assembly, null, out var lib)
            && !fallbacks.Any(path => NativeLibrary.TryLoad(path, out lib)))
            throw new DllNotFoundException("LibTorchSharp (TorchSharp's native library) could not be loaded to read tensor addresses.");
        return NativeLibrary.GetExport(lib, "THSTensor_data");
    });

    /// <summary>The device address of <paramref name="tensor"/>'s first element (its storage offset included), or zero for null.</summary>
    public static IntPtr Pointer(Tensor? tensor)
    {
        if (tensor is null) return IntPtr.Zero;
        var pointer = ((delegate* unmanaged<IntPtr, IntPtr>)DataExport.Value)(tensor.Handle);
        if (pointer == IntPtr.Zero)
        {
            torch.CheckForErrors(); // surfaces libtorch's message, if it left one
            throw new InvalidOperationException($"No data pointer for a tensor of shape [{string.Join(", ", tensor.shape)}] on {tensor.device}.");
        }
        return pointer;
    }

    /// <summary>Whether <paramref name="tensor"/>'s first element is aligned for loads of <paramref name="elements"/> elements.</summary>
    public static bool Aligned(Tensor? tensor, long elements) =>
        tensor is null || Pointer(tensor).ToInt64() % (elements * tensor.element_size()) == 0;
}
