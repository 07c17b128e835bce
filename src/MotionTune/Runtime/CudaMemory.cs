namespace MotionTune.Runtime;

/// <summary>
/// CUDA memory statistics of PyTorch's caching allocator (peak and current allocated/reserved bytes, as
/// <c>torch.cuda.max_memory_allocated</c> reports them), read through <see cref="TorchCudaShim"/> since TorchSharp has
/// none. Where the shim is unavailable <see cref="Available"/> is false and callers fall back to
/// <see cref="GpuInfo.MemGetInfo"/> (device-wide memory in use).
/// </summary>
public static unsafe class CudaMemory
{
    /// <summary>True when allocator statistics can be read.</summary>
    public static bool Available => TorchCudaShim.Available;

    /// <summary>Why statistics are unavailable, if they are.</summary>
    public static string? UnavailableReason => TorchCudaShim.UnavailableReason;

    /// <summary>Bytes held by live tensors on <paramref name="device"/>; the peak since the last reset when <paramref name="peak"/>.</summary>
    public static long AllocatedBytes(int device = 0, bool peak = false) =>
        ((delegate* unmanaged<int, int, long>)TorchCudaShim.Export("motiontune_allocated_bytes"))(device, peak ? 1 : 0);

    /// <summary>Bytes the allocator has reserved from the driver; the peak since the last reset when <paramref name="peak"/>.</summary>
    public static long ReservedBytes(int device = 0, bool peak = false) =>
        ((delegate* unmanaged<int, int, long>)TorchCudaShim.Export("motiontune_reserved_bytes"))(device, peak ? 1 : 0);

    /// <summary>Starts a new peak measurement.</summary>
    public static void ResetPeak(int device = 0) =>
        ((delegate* unmanaged<int, void>)TorchCudaShim.Export("motiontune_reset_peak"))(device);

    /// <summary>Returns cached, unused blocks to the driver.</summary>
    public static void EmptyCache() => ((delegate* unmanaged<void>)TorchCudaShim.Export("motiontune_empty_cache"))();
}
