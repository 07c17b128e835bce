using System.Runtime.InteropServices;

namespace MotionTune.Bench;

/// <summary>
/// cudaProfilerStart / cudaProfilerStop around one piece of work, so that a kernel profiler started with
/// <c>--profile-from-start off</c> (Nsight Compute: <c>ncu --profile-from-start off ...</c>) records only its kernels.
/// </summary>
public static unsafe class ProfilerRange
{
    private static readonly Lazy<IntPtr> Runtime = new(() =>
    {
        foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        throw new InvalidOperationException("ProfilerRange: no CUDA runtime library (libcudart) found.");
    });

    /// <summary>Runs <paramref name="work"/> inside a profiler range (the GPU is synchronised at both ends).</summary>
    public static void Around(Action work)
    {
        TorchSharp.torch.cuda.synchronize();
        Call("cudaProfilerStart");
        work();
        TorchSharp.torch.cuda.synchronize();
        Call("cudaProfilerStop");
    }

    private static void Call(string name)
    {
        int status = ((delegate* unmanaged<int>)NativeLibrary.GetExport(Runtime.Value, name))();
        if (status != 0) throw new InvalidOperationException($"{name} failed with CUDA error {status}.");
    }
}
