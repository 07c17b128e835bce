using System.Text.Json;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.TextEncoders;
using MotionTune.Tokenizers;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>Builds the <see cref="IPromptEncoder"/> of a pipeline folder or of a tokenizer and text-encoder folder pair.</summary>
public static class PromptEncoders
{
    /// <summary>
    /// The prompt encoder of a diffusers pipeline folder: <c>tokenizer/</c> and <c>text_encoder/</c>, the text encoder's
    /// kind chosen by its class in <c>model_index.json</c> (<c>CLIPTextModel</c> or <c>T5EncoderModel</c>), the rules by
    /// <paramref name="architecture"/>. So a small Latte- or CogVideoX-architecture model may use a CLIP text encoder
    /// (its length capped at CLIP's positions).
    /// </summary>
    /// <param name="folder">The pipeline folder (holding <c>model_index.json</c>).</param>
    /// <param name="architecture">Whose <see cref="PromptEncodingRules"/> to apply.</param>
    /// <param name="device">Where the text encoder runs (default CPU).</param>
    /// <param name="dtype">The text encoder's dtype (default float32).</param>
    /// <param name="maxLength">Overrides the rules' token length.</param>
    /// <exception cref="FileNotFoundException">No <c>model_index.json</c>.</exception>
    /// <exception cref="KeyNotFoundException">No <c>text_encoder</c> or <c>tokenizer</c> component.</exception>
    /// <exception cref="NotSupportedException">Another text encoder class.</exception>
    public static IPromptEncoder FromPipelineFolder(string folder, Architecture architecture, Device? device = null, ScalarType? dtype = null,
        int? maxLength = null)
    {
        var index = ModelIndex.Load(folder);
        var encoderFolder = index.ComponentFolder("text_encoder");
        var tokenizerFolder = index.ComponentFolder("tokenizer");
        var className = index.Components["text_encoder"].ClassName;
        return Create(tokenizerFolder, encoderFolder, className, $"{Path.Combine(folder, "model_index.json")} (text_encoder)",
            PromptEncodingRules.For(architecture), device, dtype, maxLength);
    }

    /// <summary>
    /// A prompt encoder from a tokenizer folder and a text encoder folder, the encoder's kind read from the first entry of
    /// <c>architectures</c> in its <c>config.json</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The text encoder folder has no config.json.</exception>
    /// <exception cref="NotSupportedException">Another text encoder class, or none named.</exception>
    public static IPromptEncoder FromFolders(string tokenizerFolder, string textEncoderFolder, PromptEncodingRules rules,
        Device? device = null, ScalarType? dtype = null, int? maxLength = null)
    {
        var configPath = Path.Combine(textEncoderFolder, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"Text encoder folder {textEncoderFolder} has no config.json.", configPath);
        string? className = null;
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(configPath)))
            if (doc.RootElement.TryGetProperty("architectures", out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0)
                className = list[0].GetString();
        return Create(tokenizerFolder, textEncoderFolder, className ?? "", $"{configPath} (architectures)", rules, device, dtype, maxLength);
    }

    private static IPromptEncoder Create(string tokenizerFolder, string encoderFolder, string className, string where,
        PromptEncodingRules rules, Device? device, ScalarType? dtype, int? maxLength)
    {
        // Check the class before loading anything large.
        if (className is not ("CLIPTextModel" or "T5EncoderModel"))
            throw new NotSupportedException(
                $"{where} names text encoder class '{className}'; prompt encoders support CLIPTextModel and T5EncoderModel.");
        var tokenizer = TextTokenizer.FromFolder(tokenizerFolder);
        if (className == "CLIPTextModel")
        {
            var clip = CLIPTextModel.FromPretrained(encoderFolder, device, dtype);
            try { return new PromptEncoder(tokenizer, clip, rules, maxLength); }
            catch { clip.Dispose(); throw; }
        }
        var t5 = T5EncoderModel.FromPretrained(encoderFolder, device, dtype);
        try { return new PromptEncoder(tokenizer, t5, rules, maxLength); }
        catch { t5.Dispose(); throw; }
    }
}
