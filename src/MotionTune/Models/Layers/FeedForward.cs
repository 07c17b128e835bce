using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>FeedForward</c>: <c>net.0</c> is the activation with its input projection (<c>proj</c>),
/// <c>net.1</c> dropout, <c>net.2</c> the output projection.
/// </summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    /// <summary>[activation with projection, dropout, output projection].</summary>
    public readonly ModuleList<nn.Module<Tensor, Tensor>> net;

    /// <summary>
    /// Creates the block. <paramref name="activation"/> is diffusers' <c>activation_fn</c>: "gelu", "gelu-approximate",
    /// "geglu" or "geglu-approximate".
    /// </summary>
    public FeedForward(long dim, long? dimOut = null, int mult = 4, string activation = "geglu", long? innerDim = null, bool bias = true)
        : base(nameof(FeedForward))
    {
        long inner = innerDim ?? dim * mult;
        nn.Module<Tensor, Tensor> act = activation switch
        {
            "gelu" => new GeluProjection(dim, inner, approximate: false, bias),
            "gelu-approximate" => new GeluProjection(dim, inner, approximate: true, bias),
            "geglu" => new Geglu(dim, inner, bias),
            "geglu-approximate" => new ApproximateGeluProjection(dim, inner, bias),
            _ => throw new ArgumentException($"FeedForward: activation_fn '{activation}' is not supported."),
        };
        net = new ModuleList<nn.Module<Tensor, Tensor>>(act, nn.Dropout(0), new Linear(inner, dimOut ?? dim, bias));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return net[2].forward(net[1].forward(net[0].forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>GELU after a projection (<c>proj</c>); tanh approximation optional.</summary>
public sealed class GeluProjection : nn.Module<Tensor, Tensor>
{
    /// <summary>Input projection.</summary>
    public readonly Linear proj;
    private readonly bool _approximate;

    /// <summary>Creates the layer.</summary>
    public GeluProjection(long dimIn, long dimOut, bool approximate, bool bias = true) : base("GELU")
    {
        proj = new Linear(dimIn, dimOut, bias);
        _approximate = approximate;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        // At inference on CUDA, GELU(tanh) runs in the projection GEMM's epilogue instead of as a pass of its own.
        if (_approximate && proj.bias is not null && proj.Adapter is not { Enabled: true } && MotionTune.Runtime.TorchOps.CanFuseGelu(x))
        {
            FlopCounter.AddLinear(x, proj.InFeatures, proj.OutFeatures);
            using var fused = MotionTune.Runtime.GpuProfiler.Section("linear + gelu epilogue");
            return MotionTune.Runtime.TorchOps.LinearGeluTanh(x, proj.weight, proj.bias);
        }
        var projected = proj.forward(x);
        using var profile = MotionTune.Runtime.GpuProfiler.Section("ff.activation");
        using (projected) return F.gelu(projected, _approximate ? GELU.Approximate.tanh : GELU.Approximate.none);
    }
}

/// <summary>Gated GELU: <c>proj</c> makes 2·dim_out features, split into value and gate; value · gelu(gate).</summary>
public sealed class Geglu : nn.Module<Tensor, Tensor>
{
    /// <summary>Input projection to twice the output width.</summary>
    public readonly Linear proj;

    /// <summary>Creates the layer.</summary>
    public Geglu(long dimIn, long dimOut, bool bias = true) : base("GEGLU")
    {
        proj = new Linear(dimIn, dimOut * 2, bias);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var parts = proj.forward(x).chunk(2, -1);
        using var profile = MotionTune.Runtime.GpuProfiler.Section("ff.activation");
        return (parts[0] * F.gelu(parts[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>x · sigmoid(1.702 x) after a projection (diffusers' <c>ApproximateGELU</c>).</summary>
public sealed class ApproximateGeluProjection : nn.Module<Tensor, Tensor>
{
    /// <summary>Input projection.</summary>
    public readonly Linear proj;

    /// <summary>Creates the layer.</summary>
    public ApproximateGeluProjection(long dimIn, long dimOut, bool bias = true) : base("ApproximateGELU")
    {
        proj = new Linear(dimIn, dimOut, bias);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = proj.forward(x);
        return (y * (1.702 * y).sigmoid()).MoveToOuterDisposeScope();
    }
}
