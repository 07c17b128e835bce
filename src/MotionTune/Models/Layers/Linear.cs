using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>An add-on to a <see cref="Linear"/>'s output, such as a LoRA adapter. Not part of the layer's state dict.</summary>
public interface ILinearAdapter
{
    /// <summary>Whether the adapter contributes to the output now.</summary>
    bool Enabled { get; }

    /// <summary>Returns the layer output with the adapter's contribution for <paramref name="input"/> added.</summary>
    Tensor Apply(Tensor input, Tensor baseOutput);

    /// <summary>
    /// When the adapter's contribution is now exactly <c>scale · x Aᵀ Bᵀ</c> (a low-rank product, no dropout), its factors
    /// <c>Down</c> = A (rank, in) and <c>Up</c> = B (out, rank) and the scale; otherwise null. Lets the adapters of
    /// several layers that read the same input run as one product (<see cref="Attention.ProjectQkv"/>).
    /// </summary>
    (Tensor Down, Tensor Up, double Scale)? LowRankFactors => null;
}

/// <summary>y = x Wᵀ + b, with <c>weight</c> (out, in) and optional <c>bias</c> as in PyTorch checkpoints.</summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    /// <summary>Weight, shape (out_features, in_features).</summary>
    public readonly Parameter weight;
    /// <summary>Bias, shape (out_features), or null.</summary>
    public readonly Parameter? bias;

    /// <summary>Input width.</summary>
    public long InFeatures { get; }
    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>Optional adapter (LoRA); it is applied when set and enabled.</summary>
    public ILinearAdapter? Adapter { get; set; }

    /// <summary>Creates the layer with PyTorch's default initialisation (Kaiming-uniform, a = √5).</summary>
    public Linear(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(Linear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        double bound = inFeatures > 0 ? 1.0 / Math.Sqrt(inFeatures) : 0;
        weight = ParameterFactory.Create([outFeatures, inFeatures], t => t.uniform_(-bound, bound));
        if (hasBias) bias = ParameterFactory.Create([outFeatures], t => t.uniform_(-bound, bound));
        RegisterComponents();
    }

    /// <summary>
    /// Wraps existing parameters (e.g. views of a fused weight, see <see cref="Attention.ProjectQkv"/>): the layer then
    /// reads and writes their storage.
    /// </summary>
    internal Linear(Parameter weight, Parameter? bias) : base(nameof(Linear))
    {
        if (weight.dim() != 2) throw new ArgumentException($"Linear: weight must be 2-D (out, in), got [{string.Join(", ", weight.shape)}].");
        OutFeatures = weight.shape[0];
        InFeatures = weight.shape[1];
        this.weight = weight;
        this.bias = bias;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Enabled ? MotionTune.Runtime.GpuProfiler.Section(ProfileName(input)) : null;
        FlopCounter.AddLinear(input, InFeatures, OutFeatures);
        var output = Project(input, weight, bias);
        return Adapter is { Enabled: true } adapter ? adapter.Apply(input, output) : output;
    }

    /// <summary>
    /// x Wᵀ + b over the last dimension of <paramref name="input"/>, computed as one 2-D GEMM: inputs of more than two
    /// dimensions are flattened to (rows, in) first and the result viewed back. F.linear on the same 3-D or 4-D input
    /// measured 1.3 to 2.4 times slower on an H200 (<c>motiontune-bench gemm</c>, bench/RESULTS.md), and every
    /// projection of the denoisers sees such inputs.
    /// </summary>
    public static Tensor Project(Tensor input, Tensor weight, Tensor? bias)
    {
        if (input.dim() <= 2) return F.linear(input, weight, bias);
        var shape = input.shape;
        using var flat = input.reshape(-1, shape[^1]);
        using var output = F.linear(flat, weight, bias);
        var outShape = (long[])shape.Clone();
        outShape[^1] = weight.shape[0];
        return output.view(outShape);
    }

    /// <summary>The profiler section of a projection: strided inputs are listed apart, since <see cref="Project"/> copies them first.</summary>
    internal static string ProfileName(Tensor input) => input.is_contiguous() ? "linear" : "linear (strided input)";
}
