using System.Text.Json;
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

/// <summary><c>config.json</c> of a transformers <c>CLIPModel</c>.</summary>
public sealed record CLIPConfig : ModelConfig
{
    /// <summary>The text tower's config.</summary>
    public CLIPTextConfig TextConfig { get; init; } = new();
    /// <summary>The vision tower's config.</summary>
    public CLIPVisionConfig VisionConfig { get; init; } = new();
    /// <summary>Legacy override of <see cref="TextConfig"/>: when present, transformers builds the text config from it alone.</summary>
    public JsonElement? TextConfigDict { get; init; }
    /// <summary>Legacy override of <see cref="VisionConfig"/>, as <see cref="TextConfigDict"/>.</summary>
    public JsonElement? VisionConfigDict { get; init; }
    /// <summary>Width of the joint embedding space.</summary>
    public int ProjectionDim { get; init; } = 512;
    /// <summary>Initial value of the learned log temperature.</summary>
    public double LogitScaleInitValue { get; init; } = 2.6592;

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> InertKeys => TransformersConfigKeys.Inert;

    /// <summary>The text config transformers ends up with (<see cref="TextConfigDict"/> wins over <see cref="TextConfig"/>).</summary>
    public CLIPTextConfig ResolvedTextConfig() => Resolve(TextConfigDict, TextConfig);

    /// <summary>The vision config transformers ends up with (<see cref="VisionConfigDict"/> wins over <see cref="VisionConfig"/>).</summary>
    public CLIPVisionConfig ResolvedVisionConfig() => Resolve(VisionConfigDict, VisionConfig);

    // transformers rebuilds the sub-config from the dict with defaults for every other key, then overwrites the sub-config.
    private static T Resolve<T>(JsonElement? dict, T config) where T : ModelConfig =>
        dict is { ValueKind: JsonValueKind.Object } d ? ConfigFile.Parse<T>(d.GetRawText()) : config;
}

/// <summary>What <see cref="CLIPModel.forward"/> returns.</summary>
/// <param name="LogitsPerImage">exp(logit_scale) · cosine similarity, (images, texts).</param>
/// <param name="LogitsPerText">The transpose, (texts, images).</param>
/// <param name="TextEmbeds">L2-normalised text projections, (texts, projection_dim).</param>
/// <param name="ImageEmbeds">L2-normalised image projections, (images, projection_dim).</param>
/// <param name="TextOutput">The text tower's outputs.</param>
/// <param name="VisionOutput">The vision tower's outputs.</param>
public sealed record CLIPOutput(Tensor LogitsPerImage, Tensor LogitsPerText, Tensor TextEmbeds, Tensor ImageEmbeds,
    CLIPTextOutput TextOutput, CLIPVisionOutput VisionOutput) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        LogitsPerImage.Dispose();
        LogitsPerText.Dispose();
        TextEmbeds.Dispose();
        ImageEmbeds.Dispose();
        TextOutput.Dispose();
        VisionOutput.Dispose();
    }
}

/// <summary>
/// transformers' <c>CLIPModel</c>: text and vision towers, their projections into a joint space and the learned
/// temperature; <c>logits_per_image</c> is what CLIP score and PickScore are computed from. Checkpoint keys:
/// <c>text_model.*</c>, <c>vision_model.*</c>, <c>text_projection.weight</c>, <c>visual_projection.weight</c>,
/// <c>logit_scale</c>.
/// </summary>
public sealed class CLIPModel : nn.Module
{
    /// <summary>Text tower.</summary>
    public readonly CLIPTextTransformer text_model;
    /// <summary>Vision tower.</summary>
    public readonly CLIPVisionTransformer vision_model;
    /// <summary>Pooled image features to the joint space.</summary>
    public readonly Linear visual_projection;
    /// <summary>Pooled text features to the joint space.</summary>
    public readonly Linear text_projection;
    /// <summary>Log of the similarity scale (a scalar).</summary>
    public readonly Parameter logit_scale;

    /// <summary>The config the model was built from.</summary>
    public CLIPConfig Config { get; }

    /// <summary>Creates the model.</summary>
    public CLIPModel(CLIPConfig config) : base(nameof(CLIPModel))
    {
        Config = config;
        var text = config.ResolvedTextConfig();
        var vision = config.ResolvedVisionConfig();
        text_model = new CLIPTextTransformer(text);
        vision_model = new CLIPVisionTransformer(vision);
        visual_projection = new Linear(vision.HiddenSize, config.ProjectionDim, hasBias: false);
        text_projection = new Linear(text.HiddenSize, config.ProjectionDim, hasBias: false);
        logit_scale = ParameterFactory.Constant([], config.LogitScaleInitValue);
        RegisterComponents();
    }

    /// <summary>Projected (unnormalised) text features, (texts, projection_dim): transformers' <c>get_text_features</c>.</summary>
    public Tensor GetTextFeatures(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var output = text_model.forward(inputIds, attentionMask);
        return text_projection.forward(output.PooledOutput);
    }

    /// <summary>Projected (unnormalised) image features, (images, projection_dim): transformers' <c>get_image_features</c>.</summary>
    public Tensor GetImageFeatures(Tensor pixelValues)
    {
        using var output = vision_model.forward(pixelValues);
        return visual_projection.forward(output.PooledOutput);
    }

    /// <summary>Encodes texts and images and scores every pair.</summary>
    public CLIPOutput forward(Tensor inputIds, Tensor pixelValues, Tensor? attentionMask = null)
    {
        var vision = vision_model.forward(pixelValues);
        var text = text_model.forward(inputIds, attentionMask);
        using var scope = NewDisposeScope();
        var imageEmbeds = Normalized(visual_projection.forward(vision.PooledOutput));
        var textEmbeds = Normalized(text_projection.forward(text.PooledOutput));
        var logitsPerText = textEmbeds.matmul(imageEmbeds.t().to(textEmbeds.device)) * logit_scale.exp().to(textEmbeds.device);
        var logitsPerImage = logitsPerText.t();
        return new CLIPOutput(logitsPerImage.MoveToOuterDisposeScope(), logitsPerText.MoveToOuterDisposeScope(),
            textEmbeds.MoveToOuterDisposeScope(), imageEmbeds.MoveToOuterDisposeScope(), text, vision);
    }

    /// <summary>x / ‖x‖₂ over the last dimension, spelled as transformers spells it.</summary>
    public static Tensor Normalized(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (x / x.pow(2).sum(-1, keepdim: true).pow(0.5)).MoveToOuterDisposeScope();
    }

    /// <summary>Loads <c>config.json</c> and the safetensors weights of <paramref name="folder"/> (strict).</summary>
    public static CLIPModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var path = Path.Combine(folder, "config.json");
        var config = ConfigFile.Load<CLIPConfig>(path);
        foreach (var (name, sub) in new (string, ModelConfig)[] { ("text_config", config.ResolvedTextConfig()), ("vision_config", config.ResolvedVisionConfig()) })
            if (sub.UnknownKeys() is { Count: > 0 } unknown) Log.Warning($"{path}: keys {name} does not use: {string.Join(", ", unknown)}");
        CLIPModel model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false)) model = new CLIPModel(config);
        StateDictLoader.LoadFolder(model, folder, Pretrained.ClipLoadOptions);
        return model.Frozen();
    }
}
