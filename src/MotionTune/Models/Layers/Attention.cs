using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>Options of <see cref="Attention"/>, named as diffusers' <c>Attention</c> arguments.</summary>
public sealed record AttentionOptions
{
    /// <summary>Heads.</summary>
    public int Heads { get; init; } = 8;
    /// <summary>Width of one head.</summary>
    public int DimHead { get; init; } = 64;
    /// <summary>Width of the key/value source for cross-attention (null: self-attention).</summary>
    public long? CrossAttentionDim { get; init; }
    /// <summary>Bias on to_q / to_k / to_v.</summary>
    public bool Bias { get; init; }
    /// <summary>Bias on to_out.0.</summary>
    public bool OutBias { get; init; } = true;
    /// <summary>Output width (null: the query width).</summary>
    public long? OutDim { get; init; }
    /// <summary>"layer_norm" to normalise q and k per head (CogVideoX), or null.</summary>
    public string? QkNorm { get; init; }
    /// <summary>Epsilon of the q/k norms.</summary>
    public double Eps { get; init; } = 1e-5;
    /// <summary>Whether the q/k norms have affine parameters.</summary>
    public bool ElementwiseAffine { get; init; } = true;
    /// <summary>Groups of a group norm applied to the input first (VAE attention), or null.</summary>
    public int? NormNumGroups { get; init; }
    /// <summary>Add the input to the output (VAE attention).</summary>
    public bool ResidualConnection { get; init; }
    /// <summary>Divide the output by this.</summary>
    public double RescaleOutputFactor { get; init; } = 1.0;
}

/// <summary>
/// Multi-head attention with diffusers' parameter names (<c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>,
/// optional <c>norm_q</c>/<c>norm_k</c> and <c>group_norm</c>) and the semantics of its SDPA processor:
/// inputs (B, N, C) or (B, C, H, W), scale 1/√dim_head, an optional additive or boolean mask.
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    /// <summary>Query projection.</summary>
    public readonly Linear to_q;
    /// <summary>Key projection.</summary>
    public readonly Linear to_k;
    /// <summary>Value projection.</summary>
    public readonly Linear to_v;
    /// <summary>Output projection (index 0) and dropout (index 1).</summary>
    public readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
    /// <summary>Per-head query norm, or null.</summary>
    public readonly LayerNorm? norm_q;
    /// <summary>Per-head key norm, or null.</summary>
    public readonly LayerNorm? norm_k;
    /// <summary>Input group norm, or null.</summary>
    public readonly GroupNorm? group_norm;

    private readonly AttentionOptions _options;

    /// <summary>Number of heads.</summary>
    public int Heads => _options.Heads;
    /// <summary>Width of one head.</summary>
    public int DimHead => _options.DimHead;

    /// <summary>Creates the layer for queries of width <paramref name="queryDim"/>.</summary>
    public Attention(long queryDim, AttentionOptions options) : base(nameof(Attention))
    {
        _options = options;
        long inner = (long)options.Heads * options.DimHead;
        long kvDim = options.CrossAttentionDim ?? queryDim;
        if (options.NormNumGroups is int groups) group_norm = new GroupNorm(groups, queryDim, options.Eps);
        to_q = new Linear(queryDim, inner, options.Bias);
        to_k = new Linear(kvDim, inner, options.Bias);
        to_v = new Linear(kvDim, inner, options.Bias);
        switch (options.QkNorm)
        {
            case null: break;
            case "layer_norm":
                norm_q = new LayerNorm(options.DimHead, options.Eps, options.ElementwiseAffine);
                norm_k = new LayerNorm(options.DimHead, options.Eps, options.ElementwiseAffine);
                break;
            default: throw new ArgumentException($"Attention: qk_norm '{options.QkNorm}' is not supported (only layer_norm).");
        }
        to_out = new ModuleList<nn.Module<Tensor, Tensor>>(new Linear(inner, options.OutDim ?? queryDim, options.OutBias), nn.Dropout(0));
        RegisterComponents();
    }

    /// <summary>Self-attention.</summary>
    public override Tensor forward(Tensor hiddenStates) => forward(hiddenStates, null, null);

    /// <summary>
    /// Attention of <paramref name="hiddenStates"/> over <paramref name="encoderHiddenStates"/> (or itself).
    /// <paramref name="mask"/> is boolean (true = attend) or additive, broadcastable to (B, heads, N, M).
    /// </summary>
    /// <remarks>
    /// Shared context: when <paramref name="encoderHiddenStates"/> has batch B and <paramref name="hiddenStates"/> batch
    /// B·k (e.g. the k frames of each video, consecutive), each group of k rows attends to its one context row. The
    /// result equals repeating the context k times, without the copy and with k times fewer key/value projections;
    /// the mask then broadcasts to (B, heads, k·N, M).
    /// </remarks>
    public Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var residual = hiddenStates;
        bool image = hiddenStates.dim() == 4;
        long b = hiddenStates.shape[0], c = 0, h = 0, w = 0;
        if (image)
        {
            (c, h, w) = (hiddenStates.shape[1], hiddenStates.shape[2], hiddenStates.shape[3]);
            hiddenStates = hiddenStates.view(b, c, h * w).transpose(1, 2);
        }
        if (group_norm is not null) hiddenStates = group_norm.forward(hiddenStates.transpose(1, 2)).transpose(1, 2);

        long tokens = hiddenStates.shape[1];
        long contextBatch = encoderHiddenStates?.shape[0] ?? b;
        if (contextBatch != b)
        {
            if (contextBatch == 0 || b % contextBatch != 0)
                throw new ArgumentException($"Attention: a context of batch {contextBatch} cannot serve queries of batch {b}.");
            // Queries of rows sharing a context form one longer sequence; attention is per query, so nothing mixes.
            hiddenStates = hiddenStates.reshape(contextBatch, -1, hiddenStates.shape[2]);
        }

        var context = encoderHiddenStates ?? hiddenStates;
        var q = SplitHeads(to_q.forward(hiddenStates));
        var k = SplitHeads(to_k.forward(context));
        var v = SplitHeads(to_v.forward(context));
        if (norm_q is not null) q = norm_q.forward(q);
        if (norm_k is not null) k = norm_k.forward(k);

        var output = MergeHeads(Attend(q, k, v, mask));
        output = to_out[1].forward(to_out[0].forward(output));
        if (contextBatch != b) output = output.reshape(b, tokens, output.shape[2]);
        if (image) output = output.transpose(-1, -2).reshape(b, c, h, w);
        if (_options.ResidualConnection) output = output + residual;
        if (_options.RescaleOutputFactor != 1.0) output = output / _options.RescaleOutputFactor;
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>(B, N, heads·d) → (B, heads, N, d).</summary>
    public Tensor SplitHeads(Tensor x) => x.view(x.shape[0], -1, Heads, DimHead).transpose(1, 2);

    /// <summary>(B, heads, N, d) → (B, N, heads·d).</summary>
    public static Tensor MergeHeads(Tensor x) => x.transpose(1, 2).flatten(2);

    /// <summary>Scaled dot-product attention on (B, heads, N, d) tensors; an additive mask is cast to the query dtype.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask = null)
    {
        if (mask is not null && mask.dtype != ScalarType.Bool && mask.dtype != q.dtype) mask = mask.to(q.dtype);
        FlopCounter.AddAttention(q, k, v);
        if (q.is_meta) return empty([.. q.shape[..^1], v.shape[^1]], q.dtype, q.device); // no meta kernel: shapes only
        return F.scaled_dot_product_attention(q, k, v, mask);
    }
}
