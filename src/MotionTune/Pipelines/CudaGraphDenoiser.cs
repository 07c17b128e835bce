using System.Runtime.CompilerServices;
using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>
/// Runs a denoiser's predictions on CUDA as replayed <see cref="CudaGraph"/>s: the first prediction of each input shape
/// runs once to warm up and is captured, and later ones copy their inputs into the captured tensors and replay, which
/// removes the CPU's per-operation cost (ModelScope's UNet queues about a thousand small kernels per step). Results are
/// those of the wrapped denoiser. Predictions with gradients, off CUDA, or where graphs are off
/// (<see cref="CudaGraph.Enabled"/>) or unavailable run the
/// wrapped denoiser directly, as does any shape whose capture failed (with one warning).
/// </summary>
/// <remarks>
/// A graph replays the operations it recorded, so it is keyed by everything that decides them: the input shapes and
/// dtypes, and which adapters of the model (<see cref="Linear.Adapter"/>, LoRA's separate path) are on. Weights changed in
/// place (LoRA merged or unmerged, full-parameter swaps by copy) need no new capture. At most
/// <see cref="MaxGraphs"/> graphs are kept (each holds the memory of one forward pass), the least recently used going
/// first, and only graphs that replay faster than the direct prediction (see <see cref="KeepSlowerGraphs"/>).
/// </remarks>
public sealed class CudaGraphDenoiser : IVideoDenoiser, IDisposable
{
    private readonly Linear[] _linears;
    private readonly Dictionary<GraphKey, Entry?> _graphs = [];
    private readonly LinkedList<GraphKey> _recent = new();
    private bool _warned;

    /// <summary>Wraps <paramref name="inner"/>, whose network is <paramref name="model"/>.</summary>
    public CudaGraphDenoiser(IVideoDenoiser inner, nn.Module model)
    {
        Inner = inner;
        _linears = model.modules().OfType<Linear>().ToArray();
    }

    /// <summary>The wrapped denoiser.</summary>
    public IVideoDenoiser Inner { get; }

    /// <summary>The most graphs kept at once (2: guided sampling and unguided inversion).</summary>
    public int MaxGraphs { get; init; } = 2;

    /// <summary>How many predictions were replays (for tests and benchmarks).</summary>
    public int Replays { get; private set; }

    /// <summary>
    /// Keep every captured graph even where it replays no faster than the denoiser runs directly (benchmarks time the
    /// graphs themselves). Off: after capture, two replays are timed against two direct predictions, and a graph that
    /// does not save at least 2 % is dropped (the large transformers are GPU-bound already, so copying inputs in and
    /// the output out only adds time; ModelScope's UNet saves about a sixth).
    /// </summary>
    public bool KeepSlowerGraphs { get; set; }

    /// <summary>What each capture decided, e.g. <c>latents [2, 4, 16, 32, 32]: graph 43.4 ms, direct 45.2 ms: graph</c>.</summary>
    public IReadOnlyList<string> Decisions => _decisions;

    private readonly List<string> _decisions = [];

    /// <inheritdoc />
    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        if (!latents.is_cuda || !CudaGraph.Enabled || is_grad_enabled() || !CudaGraph.Available) return Inner.Predict(latents, timesteps, condition);
        var key = KeyOf(latents, timesteps, condition);
        if (!_graphs.TryGetValue(key, out var entry)) entry = CaptureFor(key, latents, timesteps, condition);
        if (entry is null) return Inner.Predict(latents, timesteps, condition);
        _recent.Remove(key);
        _recent.AddFirst(key);
        entry.Latents.copy_(latents);
        entry.Timesteps.copy_(timesteps);
        entry.Text.copy_(condition.HiddenStates);
        if (condition.AttentionMask is not null) entry.Mask!.copy_(condition.AttentionMask);
        entry.Graph.Replay();
        Replays++;
        return entry.Graph.Output.clone();
    }

    private Entry? CaptureFor(GraphKey key, Tensor latents, Tensor timesteps, TextCondition condition)
    {
        while (_graphs.Count(g => g.Value is not null) >= MaxGraphs && _recent.Last is { } oldest)
        {
            _graphs[oldest.Value]?.Dispose();
            _graphs.Remove(oldest.Value);
            _recent.RemoveLast();
        }
        Tensor? staticLatents = null, staticTimesteps = null, staticText = null, staticMask = null;
        try
        {
            staticLatents = latents.clone().DetachFromDisposeScope();
            staticTimesteps = timesteps.clone().DetachFromDisposeScope();
            staticText = condition.HiddenStates.clone().DetachFromDisposeScope();
            staticMask = condition.AttentionMask?.clone().DetachFromDisposeScope();
            var staticCondition = new TextCondition(staticText, staticMask);
            var graph = CudaGraph.Capture(latents.device, () => Inner.Predict(staticLatents, staticTimesteps, staticCondition));
            var entry = new Entry(graph, staticLatents, staticTimesteps, staticText, staticMask);
            if (!KeepSlowerGraphs && !Pays(entry, staticCondition, latents))
            {
                entry.Dispose();
                _graphs[key] = null;
                return null;
            }
            _graphs[key] = entry;
            return entry;
        }
        catch (InvalidOperationException e)
        {
            foreach (var t in new[] { staticLatents, staticTimesteps, staticText, staticMask }) t?.Dispose();
            _graphs[key] = null;
            if (!_warned) Log.Warning($"The denoiser runs without CUDA graphs for latents [{string.Join(", ", latents.shape)}]: {e.Message}");
            _warned = true;
            return null;
        }
    }

    /// <summary>Whether replaying saves at least 2 % over predicting directly (best of two runs each; the results are the same).</summary>
    private bool Pays(Entry entry, TextCondition condition, Tensor latents)
    {
        double Best(Action run)
        {
            double best = double.MaxValue;
            for (int i = 0; i < 2; i++)
            {
                cuda.synchronize(latents.device);
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                run();
                cuda.synchronize(latents.device);
                best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            return best;
        }
        double replay = Best(entry.Graph.Replay);
        double direct = Best(() => Inner.Predict(entry.Latents, entry.Timesteps, condition).Dispose());
        bool pays = replay < 0.98 * direct;
        _decisions.Add($"latents [{string.Join(", ", latents.shape)}]: graph {replay:F1} ms, direct {direct:F1} ms: {(pays ? "graph" : "direct")}");
        return pays;
    }

    private GraphKey KeyOf(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        static string Describe(Tensor? t) => t is null ? "-" : $"{t.dtype}[{string.Join(",", t.shape)}]";
        var inputs = string.Join(' ', Describe(latents), Describe(timesteps), Describe(condition.HiddenStates),
            Describe(condition.AttentionMask), latents.device_index);
        var adapters = _linears.Select(l => l.Adapter).Where(a => a is { Enabled: true }).Cast<object>().ToArray();
        return new GraphKey(inputs, new AdapterSet(adapters));
    }

    /// <summary>Releases every graph.</summary>
    public void Dispose()
    {
        foreach (var entry in _graphs.Values) entry?.Dispose();
        _graphs.Clear();
        _recent.Clear();
        (Inner as IDisposable)?.Dispose();
    }

    private sealed record GraphKey(string Inputs, AdapterSet Adapters);

    /// <summary>The enabled adapters, compared by identity (a graph captured one adapter's tensors).</summary>
    private sealed class AdapterSet(object[] adapters) : IEquatable<AdapterSet>
    {
        private readonly object[] _adapters = adapters;
        public bool Equals(AdapterSet? other) =>
            other is not null && _adapters.Length == other._adapters.Length
            && _adapters.Zip(other._adapters).All(p => ReferenceEquals(p.First, p.Second));
        public override bool Equals(object? obj) => Equals(obj as AdapterSet);
        public override int GetHashCode() =>
            _adapters.Aggregate(_adapters.Length, (hash, a) => HashCode.Combine(hash, RuntimeHelpers.GetHashCode(a)));
    }

    private sealed record Entry(CudaGraph Graph, Tensor Latents, Tensor Timesteps, Tensor Text, Tensor? Mask) : IDisposable
    {
        public void Dispose()
        {
            Graph.Dispose();
            foreach (var t in new[] { Latents, Timesteps, Text, Mask }) t?.Dispose();
        }
    }
}
