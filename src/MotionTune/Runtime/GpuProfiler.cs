using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MotionTune.Runtime;

/// <summary>
/// A section-level profiler for finding where a forward pass spends its time: when <see cref="Enabled"/>, each
/// <see cref="Section"/> brackets its work with CUDA events (no synchronisation, so the GPU stays busy) and the times
/// are summed per name when <see cref="Collect"/> synchronises. Without CUDA it uses wall-clock time (CPU execution
/// is synchronous). Sections may nest; a nested section's time is also inside its parent's.
/// </summary>
public static unsafe class GpuProfiler
{
    private sealed record Span(string Name, IntPtr Start, IntPtr End, long CpuTicks);

    private static readonly List<Span> Spans = [];
    private static readonly Stack<IntPtr> FreeEvents = new();
    private static bool _useCuda;

    /// <summary>Whether sections are recorded. Off by default; when off, <see cref="Section"/> costs a branch.</summary>
    public static bool Enabled { get; private set; }

    /// <summary>Starts recording (clears earlier spans).</summary>
    public static void Start()
    {
        _useCuda = TorchRuntime.CudaAvailable && Cuda.Available;
        Reset();
        Enabled = true;
    }

    /// <summary>Stops recording.</summary>
    public static void Stop() => Enabled = false;

    /// <summary>Brackets a piece of work under <paramref name="name"/>; dispose the result when the work is queued.</summary>
    public static IDisposable? Section(string name) => Enabled ? new Open(name) : null;

    /// <summary>Waits for the GPU and returns total milliseconds and call counts per name, slowest first.</summary>
    public static IReadOnlyList<(string Name, double Milliseconds, int Calls)> Collect()
    {
        if (_useCuda) Cuda.Synchronize();
        var totals = new Dictionary<string, (double Ms, int Calls)>();
        foreach (var span in Spans)
        {
            double ms = _useCuda ? Cuda.Elapsed(span.Start, span.End) : span.CpuTicks * 1000.0 / Stopwatch.Frequency;
            var (sum, calls) = totals.GetValueOrDefault(span.Name);
            totals[span.Name] = (sum + ms, calls + 1);
        }
        return totals.Select(p => (p.Key, p.Value.Ms, p.Value.Calls)).OrderByDescending(p => p.Ms).ToList();
    }

    /// <summary>Forgets recorded spans (their events are reused).</summary>
    public static void Reset()
    {
        foreach (var span in Spans)
        {
            if (span.Start != IntPtr.Zero) FreeEvents.Push(span.Start);
            if (span.End != IntPtr.Zero) FreeEvents.Push(span.End);
        }
        Spans.Clear();
    }

    private sealed class Open : IDisposable
    {
        private readonly string _name;
        private readonly IntPtr _start;
        private readonly long _cpuStart;

        public Open(string name)
        {
            _name = name;
            if (_useCuda) { _start = Event(); Cuda.Record(_start); }
            else _cpuStart = Stopwatch.GetTimestamp();
        }

        public void Dispose()
        {
            if (_useCuda)
            {
                var end = Event();
                Cuda.Record(end);
                Spans.Add(new Span(_name, _start, end, 0));
            }
            else Spans.Add(new Span(_name, IntPtr.Zero, IntPtr.Zero, Stopwatch.GetTimestamp() - _cpuStart));
        }
    }

    private static IntPtr Event() => FreeEvents.Count > 0 ? FreeEvents.Pop() : Cuda.CreateEvent();

    /// <summary>The few CUDA runtime calls the profiler needs, from the runtime libtorch loaded.</summary>
    private static class Cuda
    {
        private static readonly Lazy<IntPtr> Lib = new(() =>
        {
            foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
                if (NativeLibrary.TryLoad(name, out var handle)) return handle;
            return IntPtr.Zero;
        });

        public static bool Available => Lib.Value != IntPtr.Zero;

        private static IntPtr Fn(string name) => NativeLibrary.GetExport(Lib.Value, name);

        public static IntPtr CreateEvent()
        {
            IntPtr e;
            Check(((delegate* unmanaged<IntPtr*, int>)Fn("cudaEventCreate"))(&e), "cudaEventCreate");
            return e;
        }

        // Stream 0: the stream TorchSharp's libtorch queues its work on.
        public static void Record(IntPtr e) => Check(((delegate* unmanaged<IntPtr, IntPtr, int>)Fn("cudaEventRecord"))(e, IntPtr.Zero), "cudaEventRecord");

        public static void Synchronize() => Check(((delegate* unmanaged<int>)Fn("cudaDeviceSynchronize"))(), "cudaDeviceSynchronize");

        public static double Elapsed(IntPtr start, IntPtr end)
        {
            float ms;
            Check(((delegate* unmanaged<float*, IntPtr, IntPtr, int>)Fn("cudaEventElapsedTime"))(&ms, start, end), "cudaEventElapsedTime");
            return ms;
        }

        private static void Check(int status, string call)
        {
            if (status != 0) throw new InvalidOperationException($"{call} failed with CUDA error {status}.");
        }
    }
}
