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
    private FusedQkv? _fused;

    /// <summary>
    /// Whether self-attention computes q, k and v with one GEMM over a fused (3·inner, dim) weight (see
    /// <see cref="ProjectQkv"/>). On by default; the environment variable <c>MOTIONTUNE_FUSED_QKV=0</c> turns it off.
    /// </summary>
    public static bool FuseQkvProjections { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_FUSED_QKV") != "0";

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
        if (options.CrossAttentionDim is null)
        {
            _fused = FusedQkv.Create(queryDim, inner, options.Bias);
            (to_q, to_k, to_v) = (_fused.Layers[0], _fused.Layers[1], _fused.Layers[2]);
        }
        else
        {
            to_q = new Linear(queryDim, inner, options.Bias);
            to_k = new Linear(kvDim, inner, options.Bias);
            to_v = new Linear(kvDim, inner, options.Bias);
        }
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

        var (q, k, v) = encoderHiddenStates is null
            ? ProjectQkv(hiddenStates)
            : (to_q.forward(hiddenStates), to_k.forward(encoderHiddenStates), to_v.forward(encoderHiddenStates));
        (q, k, v) = (SplitHeads(q), SplitHeads(k), SplitHeads(v));
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

    /// <summary>
    /// The self-attention projections of <paramref name="x"/> (…, dim): q, k and v, each (…, heads·d). With
    /// <see cref="FuseQkvProjections"/> on this is one GEMM over the fused weight, split into views (strided: each
    /// token's q, k and v lie side by side), with each layer's enabled adapter added to its part. It falls back to the
    /// three separate layers where the fused weight would be wrong: when autograd needs the weights' gradients (grad mode
    /// on and a weight requires grad, as in full-parameter tuning), and when the layers' parameters are no longer views
    /// of the fused weight (e.g. replaced by <c>Module.to</c>).
    /// </summary>
    public (Tensor Q, Tensor K, Tensor V) ProjectQkv(Tensor x)
    {
        if (!UsesFusedQkv()) return (to_q.forward(x), to_k.forward(x), to_v.forward(x));
        using var profile = MotionTune.Runtime.GpuProfiler.Enabled ? MotionTune.Runtime.GpuProfiler.Section(Linear.ProfileName(x)) : null;
        FlopCounter.AddLinear(x, to_q.InFeatures, 3 * to_q.OutFeatures);
        var fused = Linear.Project(x, _fused!.Weight, _fused.Bias);
        if (WithJointAdapters(x, fused) is { } adapted)
        {
            var joint = adapted.chunk(3, -1);
            return (joint[0], joint[1], joint[2]);
        }
        var parts = fused.chunk(3, -1);
        return (WithAdapter(to_q, x, parts[0]), WithAdapter(to_k, x, parts[1]), WithAdapter(to_v, x, parts[2]));
    }

    /// <summary>
    /// The fused q, k, v output with all three layers' adapters added as one low-rank product, when each is a plain
    /// low-rank adapter (LoRA without active dropout) of the same scale: x [A_q; A_k; A_v]ᵀ in one GEMM, times the
    /// block diagonal of the B's in another, added once, instead of two GEMMs and an add per layer (and, in backward,
    /// one gradient GEMM back to x instead of three). The same sums; null where it does not apply.
    /// </summary>
    private Tensor? WithJointAdapters(Tensor x, Tensor fused)
    {
        if (!JointLowRankAdapters) return null;
        var factors = new (Tensor Down, Tensor Up, double Scale)[3];
        Linear[] layers = [to_q, to_k, to_v];
        for (int i = 0; i < 3; i++)
        {
            if (layers[i].Adapter is not { Enabled: true, LowRankFactors: { } f }) return null;
            if (i > 0 && f.Scale != factors[0].Scale) return null;
            factors[i] = f;
        }
        using var scope = NewDisposeScope();
        foreach (var f in factors)
        {
            FlopCounter.AddLinear(x, f.Down.shape[1], f.Down.shape[0]);
            FlopCounter.AddLinear(x, f.Up.shape[1], f.Up.shape[0]);
        }
        // Adapter weights are cast to the activations' dtype (as LoraAdapter.Apply does), after joining: one cast each.
        var down = cat(factors.Select(f => f.Down).ToArray()).to(x.dtype);
        var up = block_diag(factors.Select(f => f.Up).ToArray()).to(x.dtype);
        var delta = Linear.Project(Linear.Project(x, down, null), up, null);
        return fused.add(delta, factors[0].Scale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether <see cref="ProjectQkv"/> runs the q, k, v adapters as one low-rank product (on by default; environment
    /// <c>MOTIONTUNE_JOINT_LORA=0</c> turns it off, to measure it).
    /// </summary>
    public static bool JointLowRankAdapters { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_JOINT_LORA") != "0";

    private static Tensor WithAdapter(Linear layer, Tensor input, Tensor output) =>
        layer.Adapter is { Enabled: true } adapter ? adapter.Apply(input, output) : output;

    private bool UsesFusedQkv()
    {
        if (!FuseQkvProjections || _fused is null) return false;
        if (!_fused.Backs(to_q, to_k, to_v))
        {
            // The layers hold other tensors now: the fused storage is stale for good, so free it.
            _fused.Dispose();
            _fused = null;
            return false;
        }
        if (!is_grad_enabled()) return true;
        foreach (var layer in new[] { to_q, to_k, to_v })
            if (layer.weight.requires_grad || layer.bias is { requires_grad: true }) return false;
        return true;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) { _fused?.Dispose(); _fused = null; }
        base.Dispose(disposing);
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
        using var profile = MotionTune.Runtime.GpuProfiler.Section("sdpa");
        if (q.is_cuda && mask is null && ShortSequenceAttention && k.shape[^2] <= ShortSequenceLimit && q.shape[^2] <= ShortSequenceLimit
            && q.shape[^1] <= ShortSequenceMaxHeadDim)
            return AttendShort(q, k, v);
        // CUDA attention kernels put batch·heads on a grid axis limited to 65,535 blocks ("invalid argument" beyond it),
        // which temporal attention over many pixels of many clips exceeds: there, attend in slices of the batch.
        return q.is_cuda ? AttendInSlices(q, k, v, mask, MaxCudaBatchHeads) : F.scaled_dot_product_attention(q, k, v, mask);
    }

    /// <summary>
    /// Attention over short sequences (temporal attention: one sequence of frames per pixel) as two batched products
    /// and a softmax, in float32 like the fused kernels' accumulation: softmax(q kᵀ / √d) v. The fused attention kernels
    /// tile the sequence in blocks of 64 to 128 rows, so a 16-frame sequence fills an eighth of each block, and they
    /// run one block per (batch, head): hundreds of thousands of nearly empty blocks for the temporal attention of a
    /// pixel-space batch.
    /// </summary>
    internal static Tensor AttendShort(Tensor q, Tensor k, Tensor v)
    {
        using var scope = NewDisposeScope();
        var dtype = q.dtype;
        var scores = matmul(q.to(ScalarType.Float32), k.to(ScalarType.Float32).transpose(-2, -1)).mul_(1.0 / Math.Sqrt(q.shape[^1]));
        var weights = scores.softmax(-1);
        return matmul(weights, v.to(ScalarType.Float32)).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether unmasked CUDA attention over sequences of at most <see cref="ShortSequenceLimit"/> tokens, with heads of
    /// at most <see cref="ShortSequenceMaxHeadDim"/>, runs as <see cref="AttendShort"/> instead of the fused kernels (on by default; <c>MOTIONTUNE_SHORT_ATTENTION=0</c> turns it off).
    /// </summary>
    public static bool ShortSequenceAttention { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_SHORT_ATTENTION") != "0";

    /// <summary>The longest query and key sequence <see cref="AttendShort"/> takes.</summary>
    public static long ShortSequenceLimit { get; set; } = 32;

    /// <summary>
    /// The widest head <see cref="AttendShort"/> takes. Measured on an H100 (bench/RESULTS.md): with heads of 8 (the
    /// bundled ShapesWorld UNet) it cut a training step by a fifth; with ModelScope's heads of 64 the fused kernels were
    /// as fast or faster and used less memory.
    /// </summary>
    public static long ShortSequenceMaxHeadDim { get; set; } = 32;

    /// <summary>Attention computed over slices of the batch so that no call sees more than <paramref name="maxBatchHeads"/> batch·heads.</summary>
    internal static Tensor AttendInSlices(Tensor q, Tensor k, Tensor v, Tensor? mask, long maxBatchHeads)
    {
        long batch = q.shape[0], heads = q.dim() == 4 ? q.shape[1] : 1;
        if (batch * heads <= maxBatchHeads || batch == 1) return F.scaled_dot_product_attention(q, k, v, mask);
        long slice = Math.Max(1, maxBatchHeads / heads);
        var parts = new List<Tensor>();
        for (long start = 0; start < batch; start += slice)
        {
            long n = Math.Min(slice, batch - start);
            var m = mask is null ? null : mask.shape[0] == 1 ? mask : mask.narrow(0, start, n);
            parts.Add(F.scaled_dot_product_attention(q.narrow(0, start, n), k.narrow(0, start, n), v.narrow(0, start, n), m));
        }
        var output = cat(parts, 0);
        foreach (var part in parts) part.Dispose();
        return output;
    }

    /// <summary>The largest batch·heads a single CUDA attention call is given (the kernels' grid limit).</summary>
    public static long MaxCudaBatchHeads { get; set; } = 65_535;
}

/// <summary>
/// One (3·inner, dim) weight (and bias) whose three row blocks are the parameters of the q, k and v layers. Held outside
/// the module's registered tensors (it is not a buffer: the state dict keeps the three layers' names).
/// </summary>
internal sealed class FusedQkv : IDisposable
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    /// <summary>to_q, to_k, to_v, whose parameters are views of <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public Linear[] Layers { get; }
    private readonly Parameter[] _weights;
    private readonly Parameter?[] _biases;

    private FusedQkv(Tensor weight, Tensor? bias, Parameter[] weights, Parameter?[] biases)
    {
        (Weight, Bias, _weights, _biases) = (weight, bias, weights, biases);
        Layers = [.. Enumerable.Range(0, 3).Select(i => new Linear(weights[i], biases[i]))];
    }

    /// <summary>Allocates and initialises the parameters in the order three separate layers would (same random draws).</summary>
    public static FusedQkv Create(long dim, long inner, bool hasBias)
    {
        double bound = dim > 0 ? 1.0 / Math.Sqrt(dim) : 0;
        void Init(Tensor t) => t.uniform_(-bound, bound);
        var weight = ParameterFactory.Allocate([3 * inner, dim]);
        var bias = hasBias ? ParameterFactory.Allocate([3 * inner]) : null;
        var weights = new Parameter[3];
        var biases = new Parameter?[3];
        for (int i = 0; i < 3; i++)
        {
            weights[i] = ParameterFactory.CreateView(weight.narrow(0, i * inner, inner), Init);
            if (bias is not null) biases[i] = ParameterFactory.CreateView(bias.narrow(0, i * inner, inner), Init);
        }
        return new FusedQkv(weight, bias, weights, biases);
    }

    /// <summary>Whether the layers still hold this storage's views.</summary>
    public bool Backs(Linear q, Linear k, Linear v)
    {
        Linear[] layers = [q, k, v];
        for (int i = 0; i < 3; i++)
            if (!ReferenceEquals(layers[i].weight, _weights[i]) || !ReferenceEquals(layers[i].bias, _biases[i])) return false;
        return true;
    }

    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
