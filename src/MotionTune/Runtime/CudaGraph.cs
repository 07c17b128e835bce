using static TorchSharp.torch;

namespace MotionTune.Runtime;

/// <summary>
/// A CUDA graph of libtorch work (what <c>torch.cuda.CUDAGraph</c> is in PyTorch): the kernels that one call of a
/// function queues, recorded once and then relaunched as a single unit by <see cref="Replay"/>, with none of the
/// per-operation CPU cost. A replay reads the same input tensors and writes the same <see cref="Output"/>, so callers copy
/// new inputs into the tensors the function read, replay, and copy the output out before the next replay. Work that
/// reads back to the CPU, synchronises or copies from CPU memory cannot be captured; capture then throws.
/// </summary>
/// <remarks>
/// Reached through <see cref="TorchCudaShim"/>: available where libtorch is a PyTorch install's CUDA build whose headers
/// and g++ are present. The graph's intermediate tensors live in a memory pool of their own, kept until disposal.
/// </remarks>
public sealed unsafe class CudaGraph : IDisposable
{
    private IntPtr _handle;

    [ThreadStatic] private static IntPtr _sideStream;

    private CudaGraph(IntPtr handle, Tensor output)
    {
        _handle = handle;
        Output = output;
    }

    /// <summary>
    /// Whether MotionTune's pipelines and training use CUDA graphs where they can (<see cref="MotionTune.Pipelines.CudaGraphDenoiser"/>,
    /// <see cref="MotionTune.Customization.GraphedTrainingStep"/>). On by default; the environment variable
    /// <c>MOTIONTUNE_CUDA_GRAPHS=0</c> turns them off.
    /// </summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_CUDA_GRAPHS") != "0";

    /// <summary>Whether graphs can be captured in this process (the first call on a CUDA host says once why not, if not).</summary>
    public static bool Available
    {
        get
        {
            bool available = TorchCudaShim.Available;
            if (!available && TorchRuntime.CudaAvailable && Interlocked.Exchange(ref _toldUnavailable, 1) == 0)
                Log.Info($"CUDA graphs are unavailable ({TorchCudaShim.UnavailableReason}); sampling and training run without them.");
            return available;
        }
    }

    private static int _toldUnavailable;

    /// <summary>Why graphs are unavailable, if they are.</summary>
    public static string? UnavailableReason => TorchCudaShim.UnavailableReason;

    /// <summary>
    /// The stream that libtorch's work of this thread goes to while a graph is warmed up or captured, else zero (the
    /// default stream): where kernels launched outside libtorch must go to be ordered with it, and captured.
    /// </summary>
    internal static IntPtr CurrentStream => _sideStream;

    /// <summary>The tensor the captured call returned; each replay overwrites it.</summary>
    public Tensor Output { get; }

    /// <summary>
    /// Runs <paramref name="body"/> <paramref name="warmups"/> times on a side stream (so that lazy set-up, such as cuDNN's
    /// algorithm search, happens before the capture), then captures one call. Tensors the body creates and drops are
    /// released at the end of each call; the one it returns becomes <see cref="Output"/>. Each warm-up call's result is
    /// passed to <paramref name="warmupResult"/> (when given) before it is released: a warm-up is a real call, so a
    /// training step's warm-up is a step whose loss counts.
    /// </summary>
    /// <exception cref="InvalidOperationException">Graphs are unavailable, or libtorch refused the capture (its message included).</exception>
    public static CudaGraph Capture(Device device, Func<Tensor> body, int warmups = 1, Action<Tensor>? warmupResult = null)
    {
        if (device.type != TorchSharp.DeviceType.CUDA) throw new ArgumentException($"CUDA graphs need a CUDA device, not {device}.");
        if (!Available) throw new InvalidOperationException($"CUDA graphs are unavailable: {UnavailableReason}");
        int index = device.index < 0 ? 0 : device.index;
        var handle = ((delegate* unmanaged<int, IntPtr>)TorchCudaShim.Export("motiontune_graph_create"))(index);
        if (handle == IntPtr.Zero) throw Failure("create");
        Tensor? output = null;
        try
        {
            // Tensors that only the finalizer would release go now, so their memory is free for the graph's pool.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            IntPtr stream;
            Check(((delegate* unmanaged<IntPtr, IntPtr*, int>)TorchCudaShim.Export("motiontune_graph_enter"))(handle, &stream), "switch streams");
            _sideStream = stream;
            try
            {
                for (int i = 0; i < warmups; i++)
                    using (var result = RunScoped(body)) warmupResult?.Invoke(result);
                Check(Call("motiontune_graph_capture_begin", handle), "begin capture");
                try
                {
                    output = RunScoped(body);
                }
                catch
                {
                    Call("motiontune_graph_capture_end", handle); // ends the stream's capture; its own error is the lesser one
                    throw;
                }
                Check(Call("motiontune_graph_capture_end", handle), "end capture");
            }
            finally
            {
                _sideStream = IntPtr.Zero;
                Check(Call("motiontune_graph_exit", handle), "restore the stream");
            }
            return new CudaGraph(handle, output);
        }
        catch
        {
            output?.Dispose();
            ((delegate* unmanaged<IntPtr, void>)TorchCudaShim.Export("motiontune_graph_destroy"))(handle);
            throw;
        }
    }

    /// <summary>Launches the captured work again on the current stream (asynchronously, as any libtorch operation).</summary>
    public void Replay()
    {
        ObjectDisposedException.ThrowIf(_handle == IntPtr.Zero, this);
        Check(Call("motiontune_graph_replay", _handle), "replay");
    }

    /// <summary>Releases the output and the graph (its memory pool returns to the allocator).</summary>
    public void Dispose()
    {
        if (_handle == IntPtr.Zero) return;
        Output.Dispose();
        ((delegate* unmanaged<IntPtr, void>)TorchCudaShim.Export("motiontune_graph_destroy"))(_handle);
        _handle = IntPtr.Zero;
    }

    private static Tensor RunScoped(Func<Tensor> body)
    {
        using var scope = NewDisposeScope();
        return body().DetachFromDisposeScope();
    }

    private static int Call(string entry, IntPtr handle) => ((delegate* unmanaged<IntPtr, int>)TorchCudaShim.Export(entry))(handle);

    private static void Check(int status, string what)
    {
        if (status != 0) throw Failure(what);
    }

    private static InvalidOperationException Failure(string what) =>
        new($"CUDA graph: could not {what}: {TorchCudaShim.LastError()}");
}
