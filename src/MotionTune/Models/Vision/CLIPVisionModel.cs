using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.TextEncoders;
using TorchSharp.Modules;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using Embedding = MotionTune.Models.Layers.Embedding;
using LayerNorm = MotionTune.Models.Layers.LayerNorm;
using Linear = MotionTune.Models.Layers.Linear;
using static TorchSharp.torch;

namespace MotionTune.Models.Vision;

/// <summary><c>config.json</c> of a transformers <c>CLIPVisionModel</c> (also the <c>vision_config</c> of a <c>CLIPModel</c>).</summary>
public sealed record CLIPVisionConfig : ModelConfig
{
    /// <summary>Width.</summary>
    public int HiddenSize { get; init; } = 768;
    /// <summary>MLP width.</summary>
    public int IntermediateSize { get; init; } = 3072;
    /// <summary>Output width of the visual projection (<c>CLIPVisionModelWithProjection</c>).</summary>
    public int ProjectionDim { get; init; } = 512;
    /// <summary>Layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;
    /// <summary>Attention heads.</summary>
    public int NumAttentionHeads { get; init; } = 12;
    /// <summary>Image channels.</summary>
    public int NumChannels { get; init; } = 3;
    /// <summary>Input side length in pixels.</summary>
    public int ImageSize { get; init; } = 224;
    /// <summary>Patch side length in pixels.</summary>
    public int PatchSize { get; init; } = 32;
    /// <summary>MLP activation.</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    /// <summary>Layer-norm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> InertKeys => TransformersConfigKeys.Inert;

    internal CLIPTowerShape Tower => new(HiddenSize, IntermediateSize, NumAttentionHeads, NumHiddenLayers, HiddenAct, LayerNormEps);
}

/// <summary>What a CLIP vision tower returns.</summary>
/// <param name="LastHiddenState">Last layer output, (batch, 1 + patches, width); no final norm, as in transformers.</param>
/// <param name="PooledOutput">The class token after <c>post_layernorm</c>, (batch, width).</param>
/// <param name="ImageEmbeds">The visual projection of the pooled output, for models that have one.</param>
public sealed record CLIPVisionOutput(Tensor LastHiddenState, Tensor PooledOutput, Tensor? ImageEmbeds) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        LastHiddenState.Dispose();
        PooledOutput.Dispose();
        ImageEmbeds?.Dispose();
    }
}

/// <summary>Class token, non-overlapping patch convolution (no bias) and learned position embeddings.</summary>
public sealed class CLIPVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    /// <summary>The class token, (width).</summary>
    public readonly Parameter class_embedding;
    /// <summary>Patchifying convolution.</summary>
    public readonly Conv2d patch_embedding;
    /// <summary>One position per patch plus the class token.</summary>
    public readonly Embedding position_embedding;
    private readonly int _imageSize;

    /// <summary>Creates the embeddings.</summary>
    public CLIPVisionEmbeddings(CLIPVisionConfig config) : base(nameof(CLIPVisionEmbeddings))
    {
        _imageSize = config.ImageSize;
        class_embedding = ParameterFactory.Create([config.HiddenSize], t => t.normal_(0, 1 / Math.Sqrt(config.HiddenSize)));
        patch_embedding = new Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, hasBias: false);
        long patches = (long)(config.ImageSize / config.PatchSize) * (config.ImageSize / config.PatchSize);
        position_embedding = new Embedding(patches + 1, config.HiddenSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor pixelValues)
    {
        if (pixelValues.dim() != 4 || pixelValues.shape[2] != _imageSize || pixelValues.shape[3] != _imageSize)
            throw new ArgumentException($"CLIP vision: pixel values must be (batch, channels, {_imageSize}, {_imageSize}), got [{string.Join(", ", pixelValues.shape)}].");
        using var scope = NewDisposeScope();
        long batch = pixelValues.shape[0];
        var patches = patch_embedding.forward(pixelValues.to(patch_embedding.weight.dtype, patch_embedding.weight.device)).flatten(2).transpose(1, 2);
        var cls = class_embedding.expand(batch, 1, -1);
        var tokens = cat([cls, patches], 1);
        return (tokens + position_embedding.weight).MoveToOuterDisposeScope();
    }
}

/// <summary>The CLIP vision tower (<c>vision_model.*</c>): embeddings, <c>pre_layrnorm</c> (sic), encoder, <c>post_layernorm</c> on the class token.</summary>
public sealed class CLIPVisionTransformer : nn.Module
{
    /// <summary>Embeddings.</summary>
    public readonly CLIPVisionEmbeddings embeddings;
    /// <summary>Norm before the encoder (the checkpoint key is spelled this way).</summary>
    public readonly LayerNorm pre_layrnorm;
    /// <summary>Transformer layers.</summary>
    public readonly CLIPEncoder encoder;
    /// <summary>Norm of the pooled class token.</summary>
    public readonly LayerNorm post_layernorm;

    /// <summary>Creates the tower.</summary>
    public CLIPVisionTransformer(CLIPVisionConfig config) : base(nameof(CLIPVisionTransformer))
    {
        embeddings = new CLIPVisionEmbeddings(config);
        pre_layrnorm = new LayerNorm(config.HiddenSize, config.LayerNormEps);
        encoder = new CLIPEncoder(config.Tower);
        post_layernorm = new LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>Encodes normalised pixels, (batch, channels, size, size).</summary>
    public CLIPVisionOutput forward(Tensor pixelValues)
    {
        using var scope = NewDisposeScope();
        var hidden = pre_layrnorm.forward(embeddings.forward(pixelValues));
        var last = encoder.forward(hidden, mask: null, causal: false, keepAll: false)[^1];
        var pooled = post_layernorm.forward(last[.., 0, ..]);
        return new CLIPVisionOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), null);
    }
}

/// <summary>transformers' <c>CLIPVisionModel</c>: the vision tower alone (checkpoint keys <c>vision_model.*</c>).</summary>
public sealed class CLIPVisionModel : nn.Module
{
    /// <summary>The tower.</summary>
    public readonly CLIPVisionTransformer vision_model;

    /// <summary>The config the model was built from.</summary>
    public CLIPVisionConfig Config { get; }

    /// <summary>Creates the model.</summary>
    public CLIPVisionModel(CLIPVisionConfig config) : base(nameof(CLIPVisionModel))
    {
        Config = config;
        vision_model = new CLIPVisionTransformer(config);
        RegisterComponents();
    }

    /// <summary>Encodes pixels; see <see cref="CLIPVisionTransformer.forward"/>.</summary>
    public CLIPVisionOutput forward(Tensor pixelValues) => vision_model.forward(pixelValues);

    /// <summary>Loads <c>config.json</c> and the safetensors weights of <paramref name="folder"/> (strict).</summary>
    public static CLIPVisionModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<CLIPVisionConfig>(Path.Combine(folder, "config.json"));
        CLIPVisionModel model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false)) model = new CLIPVisionModel(config);
        StateDictLoader.LoadFolder(model, folder, Pretrained.ClipLoadOptions);
        return model.Frozen();
    }
}

/// <summary>transformers' <c>CLIPVisionModelWithProjection</c>: the vision tower plus <c>visual_projection</c> (no bias).</summary>
public sealed class CLIPVisionModelWithProjection : nn.Module
{
    /// <summary>The tower.</summary>
    public readonly CLIPVisionTransformer vision_model;
    /// <summary>Pooled output to the joint embedding space.</summary>
    public readonly Linear visual_projection;

    /// <summary>The config the model was built from.</summary>
    public CLIPVisionConfig Config { get; }

    /// <summary>Creates the model.</summary>
    public CLIPVisionModelWithProjection(CLIPVisionConfig config) : base(nameof(CLIPVisionModelWithProjection))
    {
        Config = config;
        vision_model = new CLIPVisionTransformer(config);
        visual_projection = new Linear(config.HiddenSize, config.ProjectionDim, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Encodes pixels; the result's <see cref="CLIPVisionOutput.ImageEmbeds"/> is the (unnormalised) projection.</summary>
    public CLIPVisionOutput forward(Tensor pixelValues)
    {
        var output = vision_model.forward(pixelValues);
        return output with { ImageEmbeds = visual_projection.forward(output.PooledOutput) };
    }

    /// <summary>Loads <c>config.json</c> and the safetensors weights of <paramref name="folder"/> (strict).</summary>
    public static CLIPVisionModelWithProjection FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<CLIPVisionConfig>(Path.Combine(folder, "config.json"));
        CLIPVisionModelWithProjection model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false)) model = new CLIPVisionModelWithProjection(config);
        StateDictLoader.LoadFolder(model, folder, Pretrained.ClipLoadOptions);
        return model.Frozen();
    }
}
