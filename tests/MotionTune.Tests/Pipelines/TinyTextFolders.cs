using System.Text.Json.Nodes;
using MotionTune.IO;
using MotionTune.Tests.Parity;

namespace MotionTune.Tests.Pipelines;

/// <summary>
/// Tokenizer and text-encoder folders assembled from the fixtures: the tokenizer_clip / tokenizer_t5 vocabularies, the
/// clip_gelu CLIPModel's text tower (its end-of-text id set to the tokenizer's) and the t5_encoder model.
/// </summary>
internal static class TinyTextFolders
{
    /// <summary>The tokenizer_clip vocabulary's ids of its special tokens.</summary>
    public const int ClipBos = 731, ClipEos = 732;

    private static string FixtureDir(string name) => Path.Combine(Fixtures.Root, name);

    /// <summary>A CLIP tokenizer folder padding with <paramref name="padToken"/> to <paramref name="maxLength"/>.</summary>
    public static string ClipTokenizer(string dir, string padToken = "!", int maxLength = 77)
    {
        Directory.CreateDirectory(dir);
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(FixtureDir("tokenizer_clip"), file), Path.Combine(dir, file));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), new JsonObject
        {
            ["tokenizer_class"] = "CLIPTokenizer", ["bos_token"] = "<|startoftext|>", ["eos_token"] = "<|endoftext|>",
            ["unk_token"] = "<|endoftext|>", ["pad_token"] = padToken, ["model_max_length"] = maxLength,
        }.ToJsonString());
        return dir;
    }

    /// <summary>The clip_gelu CLIPModel's <c>text_config</c> with the tokenizer's special ids, plus extra keys.</summary>
    public static JsonObject ClipTextConfig(JsonObject? extra = null)
    {
        var full = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir("clip_gelu"), "config.json")))!;
        var text = full["text_config"]!.AsObject().DeepClone().AsObject();
        text["bos_token_id"] = ClipBos;
        text["eos_token_id"] = ClipEos;
        foreach (var (key, value) in extra ?? new JsonObject()) text[key] = value?.DeepClone();
        return text;
    }

    /// <summary>A <c>CLIPTextModel</c> folder: the clip_gelu text tower; <c>use_attention_mask</c> written when given.</summary>
    public static string ClipTextEncoder(string dir, bool? useAttentionMask = null)
    {
        Directory.CreateDirectory(dir);
        using (var weights = SafeTensorsFile.Open(Path.Combine(FixtureDir("clip_gelu"), "model.safetensors")))
        {
            var tensors = weights.Entries.Keys.Where(k => k.StartsWith("text_model.", StringComparison.Ordinal))
                .Select(k => KeyValuePair.Create(k, weights.Read(k))).ToList();
            SafeTensors.Save(Path.Combine(dir, "model.safetensors"), tensors);
            foreach (var (_, t) in tensors) t.Dispose();
        }
        var config = ClipTextConfig(new JsonObject { ["architectures"] = new JsonArray("CLIPTextModel") });
        if (useAttentionMask is { } flag) config["use_attention_mask"] = flag;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }

    /// <summary>A T5 tokenizer folder (SentencePiece model and the saved tokenizer_config.json).</summary>
    public static string T5Tokenizer(string dir)
    {
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(FixtureDir("tokenizer_t5"), "spiece.model"), Path.Combine(dir, "spiece.model"));
        File.Copy(Path.Combine(FixtureDir("tokenizer_t5"), "saved", "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        return dir;
    }

    /// <summary>A <c>T5EncoderModel</c> folder: the t5_encoder fixture.</summary>
    public static string T5Encoder(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(FixtureDir("t5_encoder"), file), Path.Combine(dir, file));
        return dir;
    }

    /// <summary>
    /// A pipeline folder with <c>model_index.json</c>, <c>tokenizer/</c> and <c>text_encoder/</c> of the given class
    /// (<c>CLIPTextModel</c>: CLIP tokenizer padding with "!"; <c>T5EncoderModel</c>: T5).
    /// </summary>
    public static string Pipeline(string dir, string textEncoderClass, string pipelineClass = "TestPipeline")
    {
        Directory.CreateDirectory(dir);
        bool clip = textEncoderClass == "CLIPTextModel";
        if (clip)
        {
            ClipTokenizer(Path.Combine(dir, "tokenizer"));
            ClipTextEncoder(Path.Combine(dir, "text_encoder"));
        }
        else
        {
            T5Tokenizer(Path.Combine(dir, "tokenizer"));
            T5Encoder(Path.Combine(dir, "text_encoder"));
        }
        File.WriteAllText(Path.Combine(dir, "model_index.json"), new JsonObject
        {
            ["_class_name"] = pipelineClass,
            ["text_encoder"] = new JsonArray("transformers", textEncoderClass),
            ["tokenizer"] = new JsonArray("transformers", clip ? "CLIPTokenizer" : "T5Tokenizer"),
            ["vae"] = new JsonArray(null, null),
        }.ToJsonString());
        return dir;
    }
}
