using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// Trainable leaf tensors packed into one flat buffer, with their gradients views of a second one, so that an optimizer
/// updates all of them with a few whole-buffer operations. A LoRA on the temporal attention has a couple of hundred
/// small tensors; updating them one by one costs about ten kernel launches each, which measured 20 to 60 ms of CPU time
/// per step on the full-size models (bench/RESULTS.md), more than the GPU needs for the whole update.
/// </summary>
/// <remarks>
/// Packing re-points each tensor at its slice of <see cref="Values"/> (its values are kept), and presets its
/// <c>grad</c> to its slice of <see cref="Gradients"/>: autograd then accumulates into those slices in place, as it
/// does into any gradient that already exists. So clear gradients with <see cref="ZeroGradients"/>, not by setting
/// <c>grad</c> to null, while packed. The tensors keep sharing <see cref="Values"/>'s storage after disposal.
/// </remarks>
public sealed class FlatParameters : IDisposable
{
    private readonly IReadOnlyList<Tensor> _tensors;

    /// <summary>All packed values, in the order given.</summary>
    public Tensor Values { get; }

    /// <summary>All gradients, in the same layout.</summary>
    public Tensor Gradients { get; }

    private FlatParameters(IReadOnlyList<Tensor> tensors, Tensor values, Tensor gradients) =>
        (_tensors, Values, Gradients) = (tensors, values, gradients);

    /// <summary>
    /// Packs <paramref name="tensors"/> (leaf tensors that share a dtype and device), or returns null when they do not
    /// share them or there are none.
    /// </summary>
    public static FlatParameters? TryPack(IReadOnlyList<Tensor> tensors)
    {
        if (tensors.Count == 0) return null;
        var (dtype, device) = (tensors[0].dtype, tensors[0].device);
        if (tensors.Any(t => t.dtype != dtype || t.device_type != device.type || t.device_index != device.index)) return null;
        long total = tensors.Sum(t => t.numel());
        using var _ = no_grad();
        var values = empty(total, dtype, device).DetachFromDisposeScope();
        var gradients = zeros(total, dtype, device).DetachFromDisposeScope();
        long offset = 0;
        foreach (var tensor in tensors)
        {
            long n = tensor.numel();
            using var slice = values.narrow(0, offset, n).view(tensor.shape);
            slice.copy_(tensor);
            tensor.set_(slice); // in place: the same tensor object (TorchSharp returns it), now a view of the flat storage
            offset += n;
        }
        var packed = new FlatParameters(tensors, values, gradients);
        packed.AttachGradients();
        return packed;
    }

    /// <summary>Zeroes every gradient (one kernel), keeping the gradient slices in place.</summary>
    public void ZeroGradients() => Gradients.zero_();

    /// <summary>Presets every tensor's <c>grad</c> to its (zeroed) slice of <see cref="Gradients"/> again.</summary>
    public void AttachGradients()
    {
        Gradients.zero_();
        long offset = 0;
        foreach (var tensor in _tensors)
        {
            long n = tensor.numel();
            tensor.grad = Gradients.narrow(0, offset, n).view(tensor.shape);
            offset += n;
        }
    }

    /// <summary>Sets every tensor's <c>grad</c> to null (the gradient buffer is kept for <see cref="AttachGradients"/>).</summary>
    public void DetachGradients()
    {
        foreach (var tensor in _tensors) tensor.grad = null;
    }

    /// <summary>Detaches the gradient slices and frees both buffers' handles (the tensors keep the values' storage).</summary>
    public void Dispose()
    {
        DetachGradients();
        Gradients.Dispose();
        Values.Dispose();
    }
}
