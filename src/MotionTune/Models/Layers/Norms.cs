using MotionTune.Runtime.Kernels;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>Group normalisation over (N, C, ...) with per-channel affine parameters.</summary>
public sealed class GroupNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Scale (C) or null.</summary>
    public readonly Parameter? weight;
    /// <summary>Shift (C) or null.</summary>
    public readonly Parameter? bias;
    /// <summary>Number of groups.</summary>
    public long NumGroups { get; }
    /// <summary>Epsilon.</summary>
    public double Eps { get; }

    /// <summary>Creates the layer (weight one, bias zero).</summary>
    public GroupNorm(long numGroups, long numChannels, double eps = 1e-5, bool affine = true) : base(nameof(GroupNorm))
    {
        if (numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: {numChannels} channels do not split into {numGroups} groups.");
        NumGroups = numGroups;
        Eps = eps;
        if (affine)
        {
            weight = ParameterFactory.Constant([numChannels], 1);
            bias = ParameterFactory.Constant([numChannels], 0);
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.is_meta) return empty_like(input); // no meta kernel: shapes only
        using var profile = MotionTune.Runtime.GpuProfiler.Section("groupnorm");
        return FusedOps.GroupNorm(input, NumGroups, weight, bias, Eps); // F.group_norm, or its CUDA kernel at inference
    }

    /// <summary>
    /// <c>silu(forward(input))</c>, in one fused CUDA kernel where <see cref="FusedOps"/> can (inference on CUDA),
    /// else exactly as the two ops.
    /// </summary>
    public Tensor ForwardSiLU(Tensor input)
    {
        if (input.is_meta) return empty_like(input); // no meta kernel: shapes only
        using var profile = MotionTune.Runtime.GpuProfiler.Section("groupnorm");
        return FusedOps.GroupNormSiLU(input, NumGroups, weight, bias, Eps);
    }
}

/// <summary>Layer normalisation over the last dimension.</summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Scale or null.</summary>
    public readonly Parameter? weight;
    /// <summary>Shift or null.</summary>
    public readonly Parameter? bias;
    private readonly long[] _shape;
    /// <summary>Epsilon.</summary>
    public double Eps { get; }

    /// <summary>Creates the layer (weight one, bias zero).</summary>
    public LayerNorm(long dim, double eps = 1e-5, bool elementwiseAffine = true, bool hasBias = true) : base(nameof(LayerNorm))
    {
        _shape = [dim];
        Eps = eps;
        if (elementwiseAffine)
        {
            weight = ParameterFactory.Constant([dim], 1);
            if (hasBias) bias = ParameterFactory.Constant([dim], 0);
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.is_meta) return empty_like(input); // no meta kernel: shapes only
        using var profile = MotionTune.Runtime.GpuProfiler.Section("layernorm");
        return F.layer_norm(input, _shape, weight, bias, Eps);
    }

    /// <summary>
    /// <see cref="forward"/> of attention heads (…, heads, d), such as per-head q/k norms: one fused CUDA kernel where
    /// <see cref="FusedOps"/> can, reading strided views in place; the output is contiguous.
    /// </summary>
    public Tensor ForwardPerHead(Tensor input)
    {
        if (input.is_meta) return empty_like(input); // no meta kernel: shapes only
        using var profile = MotionTune.Runtime.GpuProfiler.Section("layernorm");
        return FusedOps.LayerNormPerHead(input, weight, bias, Eps);
    }

    /// <summary>
    /// adaLN modulation <c>shift + forward(input)·(1 + scale)</c> of (S, R, D) tokens with per-sample (S, 1, D)
    /// <paramref name="scale"/> and <paramref name="shift"/>: one fused CUDA kernel where <see cref="FusedOps"/> can,
    /// else exactly as layer norm and one addcmul.
    /// </summary>
    public Tensor ForwardModulated(Tensor input, Tensor scale, Tensor shift)
    {
        if (input.is_meta) return empty_like(input); // no meta kernel: shapes only
        using var profile = MotionTune.Runtime.GpuProfiler.Section("layernorm");
        return FusedOps.LayerNormModulate(input, weight, bias, Eps, scale, shift);
    }

    /// <summary><see cref="ForwardModulated"/> written into <paramref name="output"/>, e.g. one part of a joint sequence.</summary>
    public void ForwardModulatedInto(Tensor output, Tensor input, Tensor scale, Tensor shift)
    {
        if (input.is_meta) return; // no meta kernel: shapes only
        using var profile = MotionTune.Runtime.GpuProfiler.Section("layernorm");
        FusedOps.LayerNormModulateInto(output, input, weight, bias, Eps, scale, shift);
    }
}

/// <summary>Token embedding table, <c>weight</c> (num_embeddings, dim).</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>
{
    /// <summary>The table.</summary>
    public readonly Parameter weight;

    /// <summary>Creates the table with N(0, 1) entries, as PyTorch does.</summary>
    public Embedding(long numEmbeddings, long dim) : base(nameof(Embedding))
    {
        weight = ParameterFactory.Create([numEmbeddings, dim], t => t.normal_(0, 1));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor ids)
    {
        // Gather rows, then restore the ids' shape with the embedding width appended.
        var rows = weight.index_select(0, ids.reshape(-1));
        return rows.view([.. ids.shape, weight.shape[1]]);
    }
}
