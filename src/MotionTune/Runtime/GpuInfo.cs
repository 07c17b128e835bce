using System.Runtime.InteropServices;

namespace MotionTune.Runtime;

/// <summary>One GPU as the NVIDIA driver reports it.</summary>
/// <param name="Index">NVML index.</param>
/// <param name="Name">Product name, e.g. "NVIDIA H100 80GB HBM3".</param>
/// <param name="TotalBytes">Device memory.</param>
/// <param name="UsedBytes">Memory in use by all processes.</param>
public sealed record GpuDevice(int Index, string Name, ulong TotalBytes, ulong UsedBytes);

/// <summary>
/// GPU names and memory, which TorchSharp does not expose. Reads the driver's NVML library
/// (<c>libnvidia-ml.so.1</c>) and the CUDA runtime that libtorch loaded.
/// </summary>
public static unsafe class GpuInfo
{
    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlMemory { public ulong Total, Free, Used; }

    private static class Nvml
    {
        private const string Lib = "libnvidia-ml.so.1";
        [DllImport(Lib, EntryPoint = "nvmlInit_v2")] public static extern int Init();
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetCount_v2")] public static extern int DeviceGetCount(out uint count);
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")] public static extern int DeviceGetHandleByIndex(uint index, out IntPtr device);
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetName")] public static extern int DeviceGetName(IntPtr device, byte* name, uint length);
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetMemoryInfo")] public static extern int DeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);
        [DllImport(Lib, EntryPoint = "nvmlSystemGetDriverVersion")] public static extern int SystemGetDriverVersion(byte* version, uint length);
    }

    /// <summary>The driver's GPUs, or an empty list where there is no NVIDIA driver.</summary>
    public static IReadOnlyList<GpuDevice> Devices()
    {
        try
        {
            if (Nvml.Init() != 0 || Nvml.DeviceGetCount(out var count) != 0) return [];
            var list = new List<GpuDevice>();
            var buffer = stackalloc byte[256];
            for (uint i = 0; i < count; i++)
            {
                if (Nvml.DeviceGetHandleByIndex(i, out var handle) != 0) continue;
                var name = Nvml.DeviceGetName(handle, buffer, 256) == 0 ? Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "?" : "?";
                Nvml.DeviceGetMemoryInfo(handle, out var memory);
                list.Add(new GpuDevice((int)i, name, memory.Total, memory.Used));
            }
            return list;
        }
        catch (DllNotFoundException) { return []; }
        catch (EntryPointNotFoundException) { return []; }
    }

    /// <summary>The NVIDIA driver version, or null without a driver.</summary>
    public static string? DriverVersion()
    {
        try
        {
            var buffer = stackalloc byte[96];
            return Nvml.Init() == 0 && Nvml.SystemGetDriverVersion(buffer, 96) == 0 ? Marshal.PtrToStringUTF8((IntPtr)buffer) : null;
        }
        catch (DllNotFoundException) { return null; }
    }

    private static readonly Lazy<IntPtr> CudaRuntime = new(() =>
    {
        foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        return IntPtr.Zero;
    });

    /// <summary>
    /// Free and total bytes of the current CUDA device as the CUDA runtime sees them (cudaMemGetInfo),
    /// or null where no CUDA runtime is loaded.
    /// </summary>
    public static (ulong Free, ulong Total)? MemGetInfo()
    {
        var lib = CudaRuntime.Value;
        if (lib == IntPtr.Zero || !NativeLibrary.TryGetExport(lib, "cudaMemGetInfo", out var fn)) return null;
        nuint free, total;
        var f = (delegate* unmanaged<nuint*, nuint*, int>)fn;
        return f(&free, &total) == 0 ? (free, total) : null;
    }
}
