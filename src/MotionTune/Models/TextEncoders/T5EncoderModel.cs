using MotionTune.IO;
using MotionTune.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using Embedding = MotionTune.Models.Layers.Embedding;
using LayerNorm = MotionTune.Models.Layers.LayerNorm;
using Linear = MotionTune.Models.Layers.Linear;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.TextEncoders;

/// <summary><c>config.json</c> of a transformers T5 model (only the encoder is built).</summary>
public sealed record T5Config : ModelConfig
{
    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; init; } = 32128;
    /// <summary>Width.</summary>
    public int DModel { get; init; } = 512;
    /// <summary>Width of one attention head.</summary>
    public int DKv { get; init; } = 64;
    /// <summary>Feed-forward width.</summary>
    public int DFf { get; init; } = 2048;
    /// <summary>Encoder blocks.</summary>
    public int NumLayers { get; init; } = 6;
    /// <summary>Decoder blocks (not built).</summary>
    public int? NumDecoderLayers { get; init; }
    /// <summary>Attention heads.</summary>
    public int NumHeads { get; init; } = 8;
    /// <summary>Relative-position buckets.</summary>
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    /// <summary>Distance beyond which relative positions share the last bucket.</summary>
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    /// <summary>RMS-norm epsilon.</summary>
    public double LayerNormEpsilon { get; init; } = 1e-6;
    /// <summary><c>relu</c> (T5 1.0) or <c>gated-gelu</c> (T5 v1.1), or <c>[gated-]ACT</c>.</summary>
    public string FeedForwardProj { get; init; } = "relu";
    /// <summary>Feed-forward activation as saved by transformers; derived from <see cref="FeedForwardProj"/> when absent.</summary>
    public string? DenseActFn { get; init; }
    /// <summary>Whether the feed-forward is gated; derived from <see cref="FeedForwardProj"/> when absent.</summary>
    public bool? IsGatedAct { get; init; }
    /// <summary>End-of-sentence id.</summary>
    public int EosTokenId { get; init; } = 1;

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> InertKeys => TransformersConfigKeys.Inert;

    /// <summary>The feed-forward activation: <c>gated-gelu</c> means the tanh-approximate <c>gelu_new</c>, as in T5Config.</summary>
    public string Activation => DenseActFn ?? (FeedForwardProj == "gated-gelu" ? "gelu_new" : FeedForwardProj.Split('-')[^1]);

    /// <summary>Whether the feed-forward has the wi_0 / wi_1 gate.</summary>
    public bool Gated => IsGatedAct ?? FeedForwardProj.Split('-')[0] == "gated";
}

/// <summary>
/// T5's layer norm: scales by the root mean square, no mean subtraction, no bias. The statistic is computed in float32
/// and the result cast back to the weight's dtype, so bf16/fp16 inference does not overflow.
/// </summary>
public sealed class T5LayerNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Scale.</summary>
    public readonly Parameter weight;
    private readonly double _eps;

    /// <summary>Creates the layer (weight one).</summary>
    public T5LayerNorm(long dim, double eps) : base(nameof(T5LayerNorm))
    {
        weight = ParameterFactory.Constant([dim], 1);
        _eps = eps;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var variance = hidden.to(ScalarType.Float32).pow(2).mean([-1], keepdim: true);
        var normed = hidden * (variance + _eps).rsqrt();
        if (weight.dtype is ScalarType.Float16 or ScalarType.BFloat16) normed = normed.to(weight.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// T5 self-attention: q/k/v/o without biases, no 1/√d scaling (it is folded into the weights), and an additive bias
/// per head from bucketed relative positions, which only the first block owns and all blocks share.
/// </summary>
public sealed class T5Attention : nn.Module
{
    /// <summary>Query projection.</summary>
    public readonly Linear q;
    /// <summary>Key projection.</summary>
    public readonly Linear k;
    /// <summary>Value projection.</summary>
    public readonly Linear v;
    /// <summary>Output projection.</summary>
    public readonly Linear o;
    /// <summary>Bias per (bucket, head); only in the first block.</summary>
    public readonly Embedding? relative_attention_bias;
    private readonly long _heads, _dKv;
    private readonly int _buckets, _maxDistance;

    /// <summary>Creates the layer.</summary>
    public T5Attention(T5Config config, bool hasRelativeAttentionBias) : base(nameof(T5Attention))
    {
        _heads = config.NumHeads;
        _dKv = config.DKv;
        _buckets = config.RelativeAttentionNumBuckets;
        _maxDistance = config.RelativeAttentionMaxDistance;
        long inner = (long)config.NumHeads * config.DKv;
        q = new Linear(config.DModel, inner, hasBias: false);
        k = new Linear(config.DModel, inner, hasBias: false);
        v = new Linear(config.DModel, inner, hasBias: false);
        o = new Linear(inner, config.DModel, hasBias: false);
        if (hasRelativeAttentionBias) relative_attention_bias = new Embedding(config.RelativeAttentionNumBuckets, config.NumHeads);
        RegisterComponents();
    }

    /// <summary>
    /// Bidirectional relative-position buckets (key − query): half the buckets per direction, exact below
    /// buckets/4, logarithmic up to the max distance, computed with transformers' float32 ops.
    /// </summary>
    public static Tensor RelativePositionBuckets(long queryLength, long keyLength, int numBuckets, int maxDistance, Device device)
    {
        using var scope = NewDisposeScope();
        var relative = arange(keyLength, dtype: ScalarType.Int64, device: device).view(1, -1)
                     - arange(queryLength, dtype: ScalarType.Int64, device: device).view(-1, 1);
        long half = numBuckets / 2;
        var buckets = relative.gt(0).to(ScalarType.Int64) * half;
        var distance = relative.abs();
        long maxExact = half / 2;
        var isSmall = distance.lt(maxExact);
        var large = ((distance.to(ScalarType.Float32) / maxExact).log() / Math.Log((double)maxDistance / maxExact) * (half - maxExact))
            .to(ScalarType.Int64) + maxExact;
        large = large.clamp_max(half - 1);
        return (buckets + where(isSmall, distance, large)).MoveToOuterDisposeScope();
    }

    /// <summary>The position bias (1, heads, queries, keys) in the weights' dtype.</summary>
    public Tensor ComputeBias(long queryLength, long keyLength)
    {
        if (relative_attention_bias is null) throw new InvalidOperationException("Only the first T5 block has a relative attention bias.");
        using var scope = NewDisposeScope();
        var buckets = RelativePositionBuckets(queryLength, keyLength, _buckets, _maxDistance, relative_attention_bias.weight.device);
        return relative_attention_bias.forward(buckets).permute(2, 0, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>Attends (batch, tokens, d_model) to itself with the additive <paramref name="positionBias"/> (mask included).</summary>
    public Tensor forward(Tensor hidden, Tensor positionBias)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], tokens = hidden.shape[1];
        Tensor Heads(Linear proj) => proj.forward(hidden).view(batch, tokens, _heads, _dKv).transpose(1, 2);
        var scores = Heads(q).matmul(Heads(k).transpose(3, 2));
        scores = scores + positionBias;
        var weights = F.softmax(scores.to(ScalarType.Float32), -1).to(scores.dtype);
        var attended = weights.matmul(Heads(v)).transpose(1, 2).reshape(batch, tokens, -1);
        return o.forward(attended).MoveToOuterDisposeScope();
    }
}

/// <summary>x + SelfAttention(layer_norm(x)).</summary>
public sealed class T5LayerSelfAttention : nn.Module
{
    /// <summary>The attention.</summary>
    public readonly T5Attention SelfAttention;
    /// <summary>Pre-norm.</summary>
    public readonly T5LayerNorm layer_norm;

    /// <summary>Creates the layer.</summary>
    public T5LayerSelfAttention(T5Config config, bool hasRelativeAttentionBias) : base(nameof(T5LayerSelfAttention))
    {
        SelfAttention = new T5Attention(config, hasRelativeAttentionBias);
        layer_norm = new T5LayerNorm(config.DModel, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>Runs the layer.</summary>
    public Tensor forward(Tensor hidden, Tensor positionBias)
    {
        using var scope = NewDisposeScope();
        return (hidden + SelfAttention.forward(layer_norm.forward(hidden), positionBias)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// T5 v1.1's gated feed-forward: wo(act(wi_0 x) · wi_1 x); or T5 1.0's wo(act(wi x)). Before <c>wo</c> the activations
/// are cast to its dtype, which transformers keeps in float32 for fp16 models.
/// </summary>
public sealed class T5DenseActDense : nn.Module<Tensor, Tensor>
{
    /// <summary>Gate input projection (gated variant).</summary>
    public readonly Linear? wi_0;
    /// <summary>Linear input projection (gated variant).</summary>
    public readonly Linear? wi_1;
    /// <summary>Input projection (ungated variant).</summary>
    public readonly Linear? wi;
    /// <summary>Output projection.</summary>
    public readonly Linear wo;
    private readonly Func<Tensor, Tensor> _activation;

    /// <summary>Creates the layer.</summary>
    public T5DenseActDense(T5Config config) : base(nameof(T5DenseActDense))
    {
        _activation = HiddenActivation.Get(config.Activation, "T5 feed_forward_proj");
        if (config.Gated)
        {
            wi_0 = new Linear(config.DModel, config.DFf, hasBias: false);
            wi_1 = new Linear(config.DModel, config.DFf, hasBias: false);
        }
        else wi = new Linear(config.DModel, config.DFf, hasBias: false);
        wo = new Linear(config.DFf, config.DModel, hasBias: false);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var inner = wi is not null ? _activation(wi.forward(hidden)) : _activation(wi_0!.forward(hidden)) * wi_1!.forward(hidden);
        if (inner.dtype != wo.weight.dtype) inner = inner.to(wo.weight.dtype);
        return wo.forward(inner).MoveToOuterDisposeScope();
    }
}

/// <summary>x + DenseReluDense(layer_norm(x)).</summary>
public sealed class T5LayerFF : nn.Module<Tensor, Tensor>
{
    /// <summary>The feed-forward (the name is historical; v1.1 is gated GELU).</summary>
    public readonly T5DenseActDense DenseReluDense;
    /// <summary>Pre-norm.</summary>
    public readonly T5LayerNorm layer_norm;

    /// <summary>Creates the layer.</summary>
    public T5LayerFF(T5Config config) : base(nameof(T5LayerFF))
    {
        DenseReluDense = new T5DenseActDense(config);
        layer_norm = new T5LayerNorm(config.DModel, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return (hidden + DenseReluDense.forward(layer_norm.forward(hidden))).MoveToOuterDisposeScope();
    }
}

/// <summary>One encoder block: <c>layer.0</c> self-attention, <c>layer.1</c> feed-forward; fp16 activations clamped as transformers does.</summary>
public sealed class T5Block : nn.Module
{
    /// <summary>The two sub-layers.</summary>
    public readonly ModuleList<nn.Module> layer;

    /// <summary>Creates the block.</summary>
    public T5Block(T5Config config, bool hasRelativeAttentionBias) : base(nameof(T5Block))
    {
        layer = new ModuleList<nn.Module>(new T5LayerSelfAttention(config, hasRelativeAttentionBias), new T5LayerFF(config));
        RegisterComponents();
    }

    /// <summary>The self-attention sub-layer.</summary>
    public T5LayerSelfAttention Attention => (T5LayerSelfAttention)layer[0];

    /// <summary>Runs the block.</summary>
    public Tensor forward(Tensor hidden, Tensor positionBias)
    {
        using var scope = NewDisposeScope();
        var x = ClampFloat16(Attention.forward(hidden, positionBias));
        x = ClampFloat16(((T5LayerFF)layer[1]).forward(x));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// fp16 only: clamp to the largest finite value (minus 1000 once anything overflowed), as transformers' T5Block
    /// does; the bound stays on the device, so there is no host sync.
    /// </summary>
    private static Tensor ClampFloat16(Tensor x)
    {
        if (x.dtype != ScalarType.Float16) return x;
        using var scope = NewDisposeScope();
        var bound = where(x.isinf().any(), tensor(65504.0 - 1000, x.dtype, x.device), tensor(65504.0, x.dtype, x.device));
        return x.clamp(-bound, bound).MoveToOuterDisposeScope();
    }
}

/// <summary>The encoder stack (<c>encoder.*</c>): blocks, then the final norm. Token embeddings are the model's <c>shared</c> table.</summary>
public sealed class T5Stack : nn.Module
{
    /// <summary>The blocks; only <c>block.0</c> owns the relative attention bias.</summary>
    public readonly ModuleList<T5Block> block;
    /// <summary>Norm of the last block's output.</summary>
    public readonly T5LayerNorm final_layer_norm;

    /// <summary>Creates the stack.</summary>
    public T5Stack(T5Config config) : base(nameof(T5Stack))
    {
        block = new ModuleList<T5Block>(Enumerable.Range(0, config.NumLayers).Select(i => new T5Block(config, i == 0)).ToArray());
        final_layer_norm = new T5LayerNorm(config.DModel, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>Encodes embedded tokens (batch, tokens, d_model); <paramref name="attentionMask"/> (batch, tokens), 1 = attend.</summary>
    public Tensor forward(Tensor embedded, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        long tokens = embedded.shape[1];
        var bias = block[0].Attention.SelfAttention.ComputeBias(tokens, tokens);
        if (attentionMask is not null)
        {
            // transformers' extended mask: 0 where attended, the dtype's lowest value elsewhere, added to the bias.
            var keep = attentionMask.to(embedded.device).to(bias.dtype).view(attentionMask.shape[0], 1, 1, tokens);
            bias = bias + (1.0 - keep) * LowestValue(bias.dtype);
        }
        var hidden = embedded;
        foreach (var b in block) hidden = b.forward(hidden, bias);
        return final_layer_norm.forward(hidden).MoveToOuterDisposeScope();
    }

    private static double LowestValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };
}

/// <summary>
/// transformers' <c>T5EncoderModel</c>, the text encoder of Latte and CogVideoX (T5 v1.1 XXL): token embeddings
/// (<c>shared</c>) and the encoder stack. Checkpoint keys: <c>shared.weight</c>, <c>encoder.block.N.layer.M.*</c>,
/// <c>encoder.final_layer_norm.weight</c>; a tied <c>encoder.embed_tokens.weight</c> is accepted in place of, or
/// beside, <c>shared.weight</c>.
/// </summary>
public sealed class T5EncoderModel : nn.Module
{
    /// <summary>Token embeddings.</summary>
    public readonly Embedding shared;
    /// <summary>The encoder.</summary>
    public readonly T5Stack encoder;

    /// <summary>The config the model was built from.</summary>
    public T5Config Config { get; }

    /// <summary>Creates the model.</summary>
    public T5EncoderModel(T5Config config) : base(nameof(T5EncoderModel))
    {
        Config = config;
        shared = new Embedding(config.VocabSize, config.DModel);
        encoder = new T5Stack(config);
        RegisterComponents();
    }

    /// <summary>
    /// Encodes (batch, tokens) int64 ids; <paramref name="attentionMask"/> (batch, tokens), 1 = real token, or null to
    /// attend everywhere. Returns the last hidden state (batch, tokens, d_model).
    /// </summary>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        if (inputIds.dim() != 2) throw new ArgumentException($"T5: input ids must be (batch, tokens), got [{string.Join(", ", inputIds.shape)}].");
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"T5: attention mask [{string.Join(", ", attentionMask.shape)}] does not match the ids [{string.Join(", ", inputIds.shape)}].");
        using var scope = NewDisposeScope();
        var embedded = shared.forward(inputIds.to(shared.weight.device));
        return encoder.forward(embedded, attentionMask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads <c>config.json</c> and the safetensors weights of <paramref name="folder"/> (strict). With fp16, the
    /// feed-forward output projections stay float32, as transformers keeps them (<c>_keep_in_fp32_modules</c>).
    /// </summary>
    public static T5EncoderModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<T5Config>(Path.Combine(folder, "config.json"));
        var type = dtype ?? ScalarType.Float32;
        T5EncoderModel model;
        using (ParameterFactory.Scope(device ?? CPU, type, initialize: false)) model = new T5EncoderModel(config);
        if (type == ScalarType.Float16)
            foreach (var b in model.encoder.block) ((T5LayerFF)b.layer[1]).DenseReluDense.wo.to(ScalarType.Float32);

        using var source = WeightSource.FromFolder(folder);
        bool hasShared = source.Contains("shared.weight");
        StateDictLoader.Load(model, source, new LoadOptions
        {
            // The encoder's embedding is tied to shared; use whichever copy the file has.
            KeyMap = key => key == "encoder.embed_tokens.weight" ? (hasShared ? null : "shared.weight") : key,
        });
        return model.Frozen();
    }
}
