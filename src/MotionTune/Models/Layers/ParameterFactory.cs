using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// Where and how modules built in the current scope allocate their parameters. Building a full-size model
/// on <c>meta</c> checks shapes without memory; building it with <c>initialize: false</c> on the GPU allocates
/// uninitialised weights that a checkpoint then fills, which is fast.
/// </summary>
/// <example><code>
/// using (ParameterFactory.Scope(torch.CUDA, ScalarType.BFloat16, initialize: false))
///     model = new UNet3DConditionModel(config);
/// </code></example>
public static class ParameterFactory
{
    private sealed record State(Device Device, ScalarType DType, bool Initialize);

    [ThreadStatic] private static State? _current;
    private static State Current => _current ?? new State(CPU, ScalarType.Float32, true);

    /// <summary>Device of new parameters (CPU by default).</summary>
    public static Device Device => Current.Device;

    /// <summary>Floating-point dtype of new parameters (float32 by default).</summary>
    public static ScalarType DType => Current.DType;

    /// <summary>Whether new parameters get the reference library's random initialisation (true by default).</summary>
    public static bool Initialize => Current.Initialize && Current.Device.type != TorchSharp.DeviceType.META;

    /// <summary>Sets device, dtype and initialisation for modules constructed until the scope is disposed.</summary>
    public static IDisposable Scope(Device device, ScalarType dtype = ScalarType.Float32, bool initialize = true)
    {
        var previous = _current;
        _current = new State(device, dtype, initialize);
        return new Restore(previous);
    }

    /// <summary>A new parameter of <paramref name="shape"/>, initialised by <paramref name="init"/> when initialisation is on.</summary>
    public static Parameter Create(long[] shape, Action<Tensor>? init, bool requiresGrad = true)
    {
        var t = empty(shape, DType, Device);
        if (Initialize && init is not null)
            using (no_grad()) init(t);
        return new Parameter(t, requiresGrad);
    }

    /// <summary>
    /// Storage for several parameters that are views of it (see <see cref="CreateView"/>): uninitialised, on the scope's
    /// device and dtype, and owned by the caller (not by any dispose scope).
    /// </summary>
    public static Tensor Allocate(long[] shape) => empty(shape, DType, Device).DetachFromDisposeScope();

    /// <summary>
    /// A parameter that is <paramref name="view"/> (a view of <see cref="Allocate"/>d storage), initialised by
    /// <paramref name="init"/> when initialisation is on, exactly as <see cref="Create"/> would initialise a parameter
    /// of its shape. Writes to the parameter (loading, in-place updates) land in the shared storage.
    /// </summary>
    public static Parameter CreateView(Tensor view, Action<Tensor>? init, bool requiresGrad = true)
    {
        if (Initialize && init is not null)
            using (no_grad()) init(view);
        return new Parameter(view, requiresGrad);
    }

    /// <summary>A parameter filled with a constant (e.g. norm weights of one).</summary>
    public static Parameter Constant(long[] shape, double value) =>
        Create(shape, t => t.fill_(value));

    private sealed class Restore(State? previous) : IDisposable
    {
        public void Dispose() => _current = previous;
    }
}
