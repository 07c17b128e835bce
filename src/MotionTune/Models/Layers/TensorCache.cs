using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// Keeps the last tensor computed for a key on a device and dtype, such as a fixed position table: built once on the
/// CPU, moved once, then reused. Not a module buffer, so it is neither in the state dict nor moved by <c>to()</c>.
/// </summary>
public sealed class TensorCache
{
    private object? _key;
    private Tensor? _value;

    /// <summary>The cached tensor for <paramref name="key"/> on <paramref name="device"/> in <paramref name="dtype"/>.</summary>
    public Tensor Get(object key, Device device, ScalarType dtype, Func<Tensor> build)
    {
        var full = (key, device.type, device.index, dtype);
        if (_value is not null && Equals(_key, full)) return _value;
        using (no_grad())
        using (NewDisposeScope())
        {
            var value = build().to(dtype, device);
            _value?.Dispose();
            _value = value.DetachFromDisposeScope();
        }
        _key = full;
        return _value;
    }
}
