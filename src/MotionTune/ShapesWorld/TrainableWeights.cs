using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// The weights a base-model run trains, kept as one flat float32 master vector (what AdamW updates, so small steps
/// accumulate even when the modules compute in bf16) and, optionally, its exponential moving average. The modules' own
/// parameters are the working copies: each step's gradient is gathered from them into one flat vector and the updated
/// master is copied back. One flat vector makes the optimizer, clipping and EMA a handful of operations instead of
/// several per parameter tensor.
/// </summary>
internal sealed class TrainableWeights : IDisposable
{
    private readonly IReadOnlyList<Parameter> _working;
    private readonly Tensor[] _masterViews;
    private readonly Tensor[] _emaViews;

    /// <summary>All trained values, float32, in parameter order.</summary>
    public Tensor Master { get; }
    /// <summary>The exponential moving average of <see cref="Master"/>, or null without EMA.</summary>
    public Tensor? Ema { get; }
    /// <summary>Number of trained values.</summary>
    public long Count => Master.numel();

    /// <summary>Takes the current values of <paramref name="working"/> as the starting master (and EMA, when <paramref name="ema"/>).</summary>
    public TrainableWeights(IReadOnlyList<Parameter> working, bool ema)
    {
        _working = working;
        using (no_grad())
        {
            Master = cat(working.Select(p => p.detach().reshape(-1).to(ScalarType.Float32)).ToArray()).DetachFromDisposeScope();
            Ema = ema ? Master.clone().DetachFromDisposeScope() : null;
        }
        _masterViews = Views(Master);
        _emaViews = Ema is null ? [] : Views(Ema);
    }

    private Tensor[] Views(Tensor flat)
    {
        var views = new Tensor[_working.Count];
        long offset = 0;
        for (int i = 0; i < _working.Count; i++)
        {
            long n = _working[i].numel();
            views[i] = flat.narrow(0, offset, n).view(_working[i].shape).DetachFromDisposeScope();
            offset += n;
        }
        return views;
    }

    /// <summary>The working parameters' gradients as one float32 vector (zeros where a parameter got none), then cleared.</summary>
    public Tensor TakeGradient()
    {
        using var scope = NewDisposeScope();
        var flat = cat(_working.Select(p => (p.grad is { } g ? g : zeros_like(p)).reshape(-1)).ToArray()).to(ScalarType.Float32);
        foreach (var p in _working) p.grad = null;
        return flat.MoveToOuterDisposeScope();
    }

    /// <summary>Copies the master (or, with <paramref name="ema"/>, the EMA) into the working parameters.</summary>
    public void Publish(bool ema = false)
    {
        var source = ema ? _emaViews : _masterViews;
        if (ema && Ema is null) throw new InvalidOperationException("This run keeps no EMA.");
        using var _ = no_grad();
        for (int i = 0; i < _working.Count; i++) _working[i].copy_(source[i]);
    }

    /// <summary>EMA ← decay · EMA + (1 − decay) · master.</summary>
    public void UpdateEma(double decay)
    {
        if (Ema is null) return;
        using var _ = no_grad();
        Ema.lerp_(Master, 1 - decay);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var v in _masterViews.Concat(_emaViews)) v.Dispose();
        Master.Dispose();
        Ema?.Dispose();
    }
}
