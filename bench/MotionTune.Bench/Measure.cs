using System.Diagnostics;
using MotionTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Bench;

/// <summary>Timing and memory measurement on a device: CUDA-synchronised, median of several runs after warm-up.</summary>
public static class Measure
{
    /// <summary>Waits for queued GPU work.</summary>
    public static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Median milliseconds of <paramref name="runs"/> calls after <paramref name="warmup"/> untimed ones; all times kept.</summary>
    public static Timing Time(Device device, Action action, int warmup = 3, int runs = 10)
    {
        for (int i = 0; i < warmup; i++) { action(); Sync(device); }
        var times = new double[runs];
        var enqueued = new double[runs];
        var collections = new int[runs];
        var pauses = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            Sync(device);
            int gen0 = GC.CollectionCount(0);
            var paused = GC.GetTotalPauseDuration();
            var watch = Stopwatch.StartNew();
            action();
            enqueued[i] = watch.Elapsed.TotalMilliseconds;
            Sync(device);
            times[i] = watch.Elapsed.TotalMilliseconds;
            collections[i] = GC.CollectionCount(0) - gen0;
            pauses[i] = (GC.GetTotalPauseDuration() - paused).TotalMilliseconds;
        }
        return new Timing(times) { EnqueueMs = enqueued, GcCollections = collections, GcPauseMs = pauses };
    }

    /// <summary>
    /// Times one call of <paramref name="step"/> by sections (see <see cref="GpuProfiler"/>), after one untimed call, and
    /// logs the table under <paramref name="title"/>. Sections nest, so their shares need not add up.
    /// </summary>
    public static void ProfileSections(Device device, string title, Action step, Action<string> log)
    {
        step();
        Sync(device);
        GpuProfiler.Start();
        using (GpuProfiler.Section("total")) step();
        var sections = GpuProfiler.Collect();
        GpuProfiler.Stop();
        double total = sections.First(s => s.Name == "total").Milliseconds;
        log($"{title} ({total:F1} ms; sections nest, so shares need not add up)");
        foreach (var (name, ms, calls) in sections.Where(s => s.Name != "total"))
            log($"  {name,-28} {ms,9:F2} ms {ms / total * 100,6:F1} %  {calls,6} calls");
    }

    /// <summary>
    /// Peak memory of <paramref name="action"/>: the allocator's peak allocated bytes where its statistics are
    /// available (as torch.cuda.max_memory_allocated), else the device-wide peak sampled from cudaMemGetInfo.
    /// </summary>
    public static MemoryPeak PeakMemory(Device device, Action action)
    {
        if (device.type != DeviceType.CUDA) { action(); return new MemoryPeak(0, "cpu: not measured"); }
        Sync(device);
        if (CudaMemory.Available)
        {
            CudaMemory.ResetPeak(device.index < 0 ? 0 : device.index);
            action();
            Sync(device);
            return new MemoryPeak(CudaMemory.AllocatedBytes(device.index < 0 ? 0 : device.index, peak: true), "allocator peak allocated");
        }
        long peak = 0;
        using var cancel = new CancellationTokenSource();
        var sampler = Task.Run(() =>
        {
            while (!cancel.IsCancellationRequested)
            {
                if (GpuInfo.MemGetInfo() is { } info) peak = Math.Max(peak, (long)(info.Total - info.Free));
                Thread.Sleep(1);
            }
        });
        action();
        Sync(device);
        cancel.Cancel();
        sampler.Wait();
        return new MemoryPeak(peak, $"device-wide peak in use, sampled (allocator statistics unavailable: {CudaMemory.UnavailableReason})");
    }
}

/// <summary>Run times in milliseconds.</summary>
public sealed record Timing(double[] Milliseconds)
{
    /// <summary>
    /// Milliseconds until each run's call returned, before waiting for the GPU: the CPU's share. Where it is close to the
    /// run's time, either the GPU waited on the CPU (kernel launches), so CPU speed decides the step, or the step itself
    /// waits for the GPU somewhere (a value read back); a short one means the GPU was the bottleneck.
    /// </summary>
    public double[] EnqueueMs { get; init; } = [];

    /// <summary>Garbage collections (any generation counts as gen 0) that happened during each run.</summary>
    public int[] GcCollections { get; init; } = [];

    /// <summary>Milliseconds the .NET runtime was paused for garbage collection during each run.</summary>
    public double[] GcPauseMs { get; init; } = [];

    /// <summary>
    /// Each run as <c>ms [enqueue ms] (collections/pause ms)</c>, to see whether slow runs are the ones the CPU held up
    /// or the GC paused.
    /// </summary>
    public string Describe() => string.Join(" ", Milliseconds.Select((ms, i) =>
        i < GcCollections.Length ? $"{ms:F0}[{EnqueueMs[i]:F0}]({GcCollections[i]}/{GcPauseMs[i]:F0})" : $"{ms:F0}"));

    /// <summary>The median.</summary>
    public double Median
    {
        get
        {
            var sorted = Milliseconds.Order().ToArray();
            int n = sorted.Length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
    }

    /// <summary>The fastest run.</summary>
    public double Min => Milliseconds.Min();
}

/// <summary>A peak memory figure and how it was obtained.</summary>
public sealed record MemoryPeak(long Bytes, string Method)
{
    /// <summary>GiB.</summary>
    public double GiB => Bytes / (double)(1L << 30);
}
