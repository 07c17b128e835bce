using MotionTune.IO;
using MotionTune.Models.Layers;
using static TorchSharp.torch;

namespace MotionTune.Models.TextEncoders;

/// <summary><c>config.json</c> of a transformers <c>CLIPTextModel</c> (also the <c>text_config</c> of a <c>CLIPModel</c>).</summary>
public sealed record CLIPTextConfig : ModelConfig
{
    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; init; } = 49408;
    /// <summary>Width.</summary>
    public int HiddenSize { get; init; } = 512;
    /// <summary>MLP width.</summary>
    public int IntermediateSize { get; init; } = 2048;
    /// <summary>Output width of the text projection (<c>CLIPTextModelWithProjection</c>, <c>CLIPModel</c> uses its own).</summary>
    public int ProjectionDim { get; init; } = 512;
    /// <summary>Layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;
    /// <summary>Attention heads.</summary>
    public int NumAttentionHeads { get; init; } = 8;
    /// <summary>Positions (the maximum sequence length).</summary>
    public int MaxPositionEmbeddings { get; init; } = 77;
    /// <summary>MLP activation: <c>quick_gelu</c> (OpenAI) or <c>gelu</c> (OpenCLIP).</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    /// <summary>Layer-norm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;
    /// <summary>Padding id.</summary>
    public int PadTokenId { get; init; } = 1;
    /// <summary>Start-of-text id.</summary>
    public int BosTokenId { get; init; } = 49406;
    /// <summary>End-of-text id; the pooled output is taken at its first occurrence (see <see cref="CLIPTextTransformer"/>).</summary>
    public int EosTokenId { get; init; } = 49407;
    /// <summary>diffusers' flag telling a pipeline to pass the tokenizer's attention mask to this model.</summary>
    public bool? UseAttentionMask { get; init; }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> InertKeys => TransformersConfigKeys.Inert;

    internal CLIPTowerShape Tower => new(HiddenSize, IntermediateSize, NumAttentionHeads, NumHiddenLayers, HiddenAct, LayerNormEps);
}

/// <summary>What a CLIP text tower returns.</summary>
/// <param name="LastHiddenState">Final layer output after the final layer norm, (batch, tokens, width).</param>
/// <param name="PenultimateHiddenState">Output of the second-to-last layer, without the final norm (<c>hidden_states[-2]</c>).</param>
/// <param name="PooledOutput">Final-normed state at each row's end-of-text token, (batch, width).</param>
/// <param name="HiddenStates">Embeddings followed by each layer's output (transformers' <c>hidden_states</c>), when asked for.</param>
/// <param name="TextEmbeds">The text projection of the pooled output, for models that have one.</param>
public sealed record CLIPTextOutput(Tensor LastHiddenState, Tensor PenultimateHiddenState, Tensor PooledOutput,
    IReadOnlyList<Tensor>? HiddenStates, Tensor? TextEmbeds) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        var all = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { LastHiddenState, PenultimateHiddenState, PooledOutput };
        if (HiddenStates is not null) all.UnionWith(HiddenStates);
        if (TextEmbeds is not null) all.Add(TextEmbeds);
        foreach (var t in all) t.Dispose();
    }
}

/// <summary>Token plus learned position embeddings.</summary>
public sealed class CLIPTextEmbeddings : nn.Module<Tensor, Tensor>
{
    /// <summary>Token table.</summary>
    public readonly Embedding token_embedding;
    /// <summary>Position table.</summary>
    public readonly Embedding position_embedding;

    /// <summary>Creates the embeddings.</summary>
    public CLIPTextEmbeddings(CLIPTextConfig config) : base(nameof(CLIPTextEmbeddings))
    {
        token_embedding = new Embedding(config.VocabSize, config.HiddenSize);
        position_embedding = new Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor inputIds)
    {
        long length = inputIds.shape[^1], positions = position_embedding.weight.shape[0];
        if (length > positions)
            throw new ArgumentException($"CLIP text: {length} tokens exceed the model's {positions} positions.");
        using var scope = NewDisposeScope();
        var device = token_embedding.weight.device;
        var positionIds = arange(length, dtype: ScalarType.Int64, device: device);
        return (token_embedding.forward(inputIds.to(device)) + position_embedding.forward(positionIds)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The CLIP text tower (<c>text_model.*</c>): embeddings, causal pre-norm transformer, final layer norm, and the pooled
/// output at the end-of-text token. Pooling follows transformers: when every row's largest id is 49407 (OpenAI CLIP's
/// end-of-text, the highest id of its vocabulary) the position of that largest id is used, so old configs with
/// <c>eos_token_id</c> 2 keep working; otherwise the first position of <c>eos_token_id</c>.
/// </summary>
public sealed class CLIPTextTransformer : nn.Module
{
    private const long OpenAIEndOfText = 49407;

    /// <summary>Embeddings.</summary>
    public readonly CLIPTextEmbeddings embeddings;
    /// <summary>Transformer layers.</summary>
    public readonly CLIPEncoder encoder;
    /// <summary>Norm applied to the last layer's output.</summary>
    public readonly LayerNorm final_layer_norm;
    private readonly long _eosTokenId;

    /// <summary>Creates the tower.</summary>
    public CLIPTextTransformer(CLIPTextConfig config) : base(nameof(CLIPTextTransformer))
    {
        embeddings = new CLIPTextEmbeddings(config);
        encoder = new CLIPEncoder(config.Tower);
        final_layer_norm = new LayerNorm(config.HiddenSize, config.LayerNormEps);
        _eosTokenId = config.EosTokenId;
        RegisterComponents();
    }

    /// <summary>
    /// Encodes (batch, tokens) int64 ids. <paramref name="attentionMask"/> (batch, tokens), 1 = real token, is combined
    /// with the causal mask; most pipelines pass none.
    /// </summary>
    public CLIPTextOutput forward(Tensor inputIds, Tensor? attentionMask = null, bool outputHiddenStates = false)
    {
        if (inputIds.dim() != 2) throw new ArgumentException($"CLIP text: input ids must be (batch, tokens), got [{string.Join(", ", inputIds.shape)}].");
        using var scope = NewDisposeScope();
        var hidden = embeddings.forward(inputIds);
        Tensor? mask = null;
        if (attentionMask is not null)
        {
            long n = inputIds.shape[1];
            var causal = ones(n, n, ScalarType.Bool, hidden.device).tril();
            var keys = attentionMask.to(hidden.device).to(ScalarType.Bool).view(attentionMask.shape[0], 1, 1, n);
            mask = causal.view(1, 1, n, n).logical_and(keys);
        }
        var states = encoder.forward(hidden, mask, causal: true, keepAll: outputHiddenStates);
        var last = final_layer_norm.forward(states[^1]);
        var pooled = last[arange(last.shape[0], device: last.device), EndOfTextPositions(inputIds).to(last.device)];
        var output = new CLIPTextOutput(last, states[^2], pooled, outputHiddenStates ? states : null, null);
        foreach (var t in output.HiddenStates ?? [output.PenultimateHiddenState]) t.MoveToOuterDisposeScope();
        last.MoveToOuterDisposeScope();
        pooled.MoveToOuterDisposeScope();
        return output;
    }

    /// <summary>Per row, the position the pooled output is taken from (see the class remarks).</summary>
    public Tensor EndOfTextPositions(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to(ScalarType.Int32);
        bool legacy = inputIds.max(-1).values.eq(OpenAIEndOfText).all().item<bool>();
        var positions = legacy ? ids.argmax(-1) : ids.eq(_eosTokenId).to(ScalarType.Int32).argmax(-1);
        return positions.MoveToOuterDisposeScope();
    }
}

/// <summary>transformers' <c>CLIPTextModel</c>: the text tower alone (checkpoint keys <c>text_model.*</c>), as diffusers' text encoders ship it.</summary>
public sealed class CLIPTextModel : nn.Module
{
    /// <summary>The tower.</summary>
    public readonly CLIPTextTransformer text_model;

    /// <summary>The config the model was built from.</summary>
    public CLIPTextConfig Config { get; }

    /// <summary>Creates the model (parameters per <see cref="ParameterFactory"/>).</summary>
    public CLIPTextModel(CLIPTextConfig config) : base(nameof(CLIPTextModel))
    {
        Config = config;
        text_model = new CLIPTextTransformer(config);
        RegisterComponents();
    }

    /// <summary>Encodes ids; see <see cref="CLIPTextTransformer.forward"/>.</summary>
    public CLIPTextOutput forward(Tensor inputIds, Tensor? attentionMask = null, bool outputHiddenStates = false) =>
        text_model.forward(inputIds, attentionMask, outputHiddenStates);

    /// <summary>Loads <c>config.json</c> and the safetensors weights of <paramref name="folder"/> (strict).</summary>
    public static CLIPTextModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<CLIPTextConfig>(Path.Combine(folder, "config.json"));
        CLIPTextModel model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false)) model = new CLIPTextModel(config);
        StateDictLoader.LoadFolder(model, folder, Pretrained.ClipLoadOptions);
        return model.Frozen();
    }
}

/// <summary>transformers' <c>CLIPTextModelWithProjection</c>: the text tower plus <c>text_projection</c> (no bias).</summary>
public sealed class CLIPTextModelWithProjection : nn.Module
{
    /// <summary>The tower.</summary>
    public readonly CLIPTextTransformer text_model;
    /// <summary>Pooled output to the joint embedding space.</summary>
    public readonly Linear text_projection;

    /// <summary>The config the model was built from.</summary>
    public CLIPTextConfig Config { get; }

    /// <summary>Creates the model.</summary>
    public CLIPTextModelWithProjection(CLIPTextConfig config) : base(nameof(CLIPTextModelWithProjection))
    {
        Config = config;
        text_model = new CLIPTextTransformer(config);
        text_projection = new Linear(config.HiddenSize, config.ProjectionDim, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Encodes ids; the result's <see cref="CLIPTextOutput.TextEmbeds"/> is the (unnormalised) projection.</summary>
    public CLIPTextOutput forward(Tensor inputIds, Tensor? attentionMask = null, bool outputHiddenStates = false)
    {
        var output = text_model.forward(inputIds, attentionMask, outputHiddenStates);
        return output with { TextEmbeds = text_projection.forward(output.PooledOutput) };
    }

    /// <summary>Loads <c>config.json</c> and the safetensors weights of <paramref name="folder"/> (strict).</summary>
    public static CLIPTextModelWithProjection FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<CLIPTextConfig>(Path.Combine(folder, "config.json"));
        CLIPTextModelWithProjection model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false)) model = new CLIPTextModelWithProjection(config);
        StateDictLoader.LoadFolder(model, folder, Pretrained.ClipLoadOptions);
        return model.Frozen();
    }
}
