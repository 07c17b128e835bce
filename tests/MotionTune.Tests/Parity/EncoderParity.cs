using MotionTune.Models.TextEncoders;
using MotionTune.Models.Vision;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>Compares every expected tensor of a case with what we computed, at one absolute tolerance.</summary>
internal static class ExpectedTensors
{
    public static void AssertAll(FixtureCase fixture, IReadOnlyDictionary<string, Func<Tensor>> actual, IEnumerable<string> inputs,
        double atol, ITestOutputHelper output)
    {
        var expectedNames = fixture.IoNames.Except(inputs).Order(StringComparer.Ordinal).ToList();
        var unhandled = expectedNames.Where(n => !actual.ContainsKey(n)).ToList();
        Assert.True(unhandled.Count == 0, $"{fixture.Name}: no comparison for {string.Join(", ", unhandled)}");
        foreach (var name in expectedNames)
        {
            using var scope = NewDisposeScope();
            var expected = fixture.Io(name);
            var ours = actual[name]();
            output.WriteLine($"{fixture.Name} {name}: max abs error {ParityAssert.MaxAbsError(ours, expected):E2}");
            ParityAssert.Close(ours, expected, atol, what: $"{fixture.Name} {name}");
        }
    }
}

/// <summary>
/// <c>clip_model</c>: a full CLIPModel loaded from config.json + model.safetensors; text hidden states, pooled
/// (projected) features, normalised embeddings and <c>logits_per_image</c> to 1e-4.
/// </summary>
[ParityKind("clip_model")]
public sealed class ClipModelParity : IParityCheck
{
    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        TorchRuntime.Initialize();
        using var model = CLIPModel.FromPretrained(fixture.Dir);
        using var ids = fixture.Io("input_ids");
        using var pixels = fixture.Io("pixel_values");
        using var _ = no_grad();
        using var result = model.forward(ids, pixels);
        var actual = new Dictionary<string, Func<Tensor>>
        {
            ["text_last_hidden_state"] = () => result.TextOutput.LastHiddenState,
            ["text_penultimate_hidden_state"] = () => result.TextOutput.PenultimateHiddenState,
            // transformers' get_text_features / get_image_features: the pooled outputs, projected.
            ["text_pooler_output"] = () => model.GetTextFeatures(ids),
            ["vision_pooler_output"] = () => model.GetImageFeatures(pixels),
            ["text_embeds"] = () => result.TextEmbeds,
            ["image_embeds"] = () => result.ImageEmbeds,
            ["logits_per_image"] = () => result.LogitsPerImage,
        };
        ExpectedTensors.AssertAll(fixture, actual, ["input_ids", "pixel_values"], 1e-4, output);
    }
}

/// <summary><c>t5_encoder</c>: T5EncoderModel from config.json + model.safetensors, with and without the attention mask, to 1e-4.</summary>
[ParityKind("t5_encoder")]
public sealed class T5EncoderParity : IParityCheck
{
    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        TorchRuntime.Initialize();
        using var model = T5EncoderModel.FromPretrained(fixture.Dir);
        using var ids = fixture.Io("input_ids");
        using var mask = fixture.Io("attention_mask");
        using var _ = no_grad();
        var actual = new Dictionary<string, Func<Tensor>>
        {
            ["last_hidden_state"] = () => model.forward(ids, mask),
            ["last_hidden_state_nomask"] = () => model.forward(ids),
        };
        ExpectedTensors.AssertAll(fixture, actual, ["input_ids", "attention_mask"], 1e-4, output);
    }
}

/// <summary>
/// <c>clip_image_processor</c>: uint8 HWC images to normalised pixel values through preprocessor_config.json. The
/// fixture was made by transformers 5's default (torchvision) backend, which our default reproduces exactly (1e-5,
/// float32 rounding); the PIL backend must stay within the 2e-2 that separates PIL from torch resampling.
/// </summary>
[ParityKind("clip_image_processor")]
public sealed class ClipImageProcessorParity : IParityCheck
{
    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        TorchRuntime.Initialize();
        var images = fixture.IoNames.Where(n => n.EndsWith("_hwc_uint8", StringComparison.Ordinal)).ToList();
        foreach (var (backend, atol) in new[] { (ImageProcessorBackend.Torchvision, 1e-5), (ImageProcessorBackend.Pil, 2e-2) })
        {
            var processor = CLIPImageProcessor.FromPretrained(fixture.Dir, backend);
            output.WriteLine($"{backend} backend:");
            var actual = images.ToDictionary(n => n.Replace("_hwc_uint8", "_pixel_values"), n => (Func<Tensor>)(() =>
            {
                using var image = fixture.Io(n);
                return processor.Preprocess(image);
            }));
            ExpectedTensors.AssertAll(fixture, actual, images, atol, output);
        }
    }
}
