using MotionTune.Models.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Customization;

/// <summary>
/// A LoRA adapter on one <see cref="Linear"/>, as peft defines it: y = W x + b + (alpha / r) · B A dropout(x), with
/// <c>lora_A</c> (r, in) Kaiming-uniform initialised and <c>lora_B</c> (out, r) zero, so a fresh adapter changes nothing.
/// fp32 adapters on a bf16 base compute in bf16 with their weights cast per call (autocast semantics), so the master
/// weights and their gradients stay fp32 while no large activation is copied to fp32.
/// </summary>
public sealed class LoraAdapter : nn.Module, ILinearAdapter
{
    /// <summary>Down projection, (rank, in_features).</summary>
    public readonly Linear lora_A;
    /// <summary>Up projection, (out_features, rank).</summary>
    public readonly Linear lora_B;

    /// <summary>alpha / rank.</summary>
    public double Scaling { get; }
    /// <summary>Dropout probability on the adapter's input (training only).</summary>
    public double Dropout { get; }
    /// <summary>Whether the adapter adds its term now.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Draws the dropout masks when set (it must live on the adapter's device), so training is reproducible whatever
    /// else uses torch's global generator; null draws from the global generator.
    /// </summary>
    public Generator? DropoutGenerator { get; set; }

    /// <summary>Creates an adapter of <paramref name="rank"/> for a layer of the given widths.</summary>
    public LoraAdapter(long inFeatures, long outFeatures, int rank, double alpha, double dropout = 0) : base(nameof(LoraAdapter))
    {
        if (rank <= 0) throw new ArgumentOutOfRangeException(nameof(rank), $"LoRA rank must be positive, got {rank}.");
        Scaling = alpha / rank;
        Dropout = dropout;
        lora_A = new Linear(inFeatures, rank, hasBias: false);   // Kaiming-uniform (a = √5), as peft
        lora_B = new Linear(rank, outFeatures, hasBias: false);
        using (no_grad()) lora_B.weight.zero_();
        RegisterComponents();
    }

    /// <inheritdoc />
    public Tensor Apply(Tensor input, Tensor baseOutput)
    {
        using var scope = NewDisposeScope();
        // Mixed precision as autocast does it: the (small) adapter weights are cast to the activations' dtype, rather
        // than the (large) activations to the weights' fp32. Gradients still reach the fp32 weights through the cast.
        var x = input;
        var a = lora_A.weight.dtype == x.dtype ? (Tensor)lora_A.weight : lora_A.weight.to(x.dtype);
        var b = lora_B.weight.dtype == x.dtype ? (Tensor)lora_B.weight : lora_B.weight.to(x.dtype);
        if (Dropout > 0 && training)
            x = DropoutGenerator is null
                ? F.dropout(x, Dropout, training)
                : x * empty_like(x).bernoulli_(1 - Dropout, DropoutGenerator).div_(1 - Dropout);
        FlopCounter.AddLinear(x, lora_A.InFeatures, lora_A.OutFeatures);
        FlopCounter.AddLinear(x, lora_B.InFeatures, lora_B.OutFeatures);
        var delta = Linear.Project(Linear.Project(x, a, null), b, null);
        return baseOutput.add(delta, Scaling).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>Null while dropout is active (training with a dropout rate), whose mask is the adapter's own.</remarks>
    public (Tensor Down, Tensor Up, double Scale)? LowRankFactors =>
        Dropout > 0 && training ? null : (lora_A.weight, lora_B.weight, Scaling);

    /// <summary>The weight update this adapter represents, (alpha / r) · B A, shape (out, in), in <paramref name="dtype"/>.</summary>
    public Tensor DeltaWeight(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        return (lora_B.weight.detach().matmul(lora_A.weight.detach()) * Scaling).to(dtype).MoveToOuterDisposeScope();
    }
}
