using System.Text.Json;

namespace MotionTune.Tokenizers;

/// <summary>
/// What a transformers tokenizer folder says besides the vocabulary: the special tokens and the maximum length, from
/// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c> (which wins, as in transformers) and
/// <c>added_tokens.json</c>. Token entries may be plain strings or <c>{"content": ...}</c> objects.
/// </summary>
public sealed class TokenizerSettings
{
    // Lengths at or above this are transformers' "no limit" placeholder (int(1e30)).
    private const double NoLimit = 1e12;

    private readonly Dictionary<string, string?> _tokens = [];

    /// <summary><c>model_max_length</c>, or null when the folder sets no real limit.</summary>
    public int? ModelMaxLength { get; private set; }
    /// <summary><c>extra_ids</c> (T5's sentinel count), or null.</summary>
    public int? ExtraIds { get; private set; }
    /// <summary>Added tokens with fixed ids (<c>added_tokens_decoder</c> and <c>added_tokens.json</c>), content to id.</summary>
    public Dictionary<string, int> AddedTokens { get; } = new(StringComparer.Ordinal);
    /// <summary><c>additional_special_tokens</c> / <c>extra_special_tokens</c>.</summary>
    public List<string> AdditionalSpecialTokens { get; } = [];

    /// <summary>The content of a special token (<c>bos_token</c>, <c>eos_token</c>, <c>unk_token</c>, <c>pad_token</c>), or null.</summary>
    public string? Token(string name) => _tokens.GetValueOrDefault(name);

    /// <summary>Reads the settings files of <paramref name="folder"/>; absent files are fine.</summary>
    /// <exception cref="InvalidDataException">A file exists but is not valid JSON of the expected shape.</exception>
    public static TokenizerSettings Load(string folder)
    {
        var settings = new TokenizerSettings();
        foreach (var file in new[] { "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json" })
        {
            var path = Path.Combine(folder, file);
            if (!File.Exists(path)) continue;
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
                if (file == "added_tokens.json")
                {
                    foreach (var p in doc.RootElement.EnumerateObject()) settings.AddedTokens[p.Name] = p.Value.GetInt32();
                }
                else settings.Read(doc.RootElement);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}: not a valid tokenizer settings file: {e.Message}", e);
            }
        }
        return settings;
    }

    private void Read(JsonElement root)
    {
        foreach (var name in new[] { "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token" })
            if (root.TryGetProperty(name, out var value)) _tokens[name] = Content(value);

        if (root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number)
        {
            double length = max.GetDouble();
            ModelMaxLength = length >= NoLimit ? null : (int)length;
        }
        if (root.TryGetProperty("extra_ids", out var extra) && extra.ValueKind == JsonValueKind.Number) ExtraIds = extra.GetInt32();
        if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            foreach (var p in decoder.EnumerateObject())
                if (Content(p.Value) is { } content) AddedTokens[content] = int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var key in new[] { "additional_special_tokens", "extra_special_tokens" })
            if (root.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array)
                foreach (var item in list.EnumerateArray())
                    if (Content(item) is { } content && !AdditionalSpecialTokens.Contains(content)) AdditionalSpecialTokens.Add(content);
    }

    private static string? Content(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object when value.TryGetProperty("content", out var c) => c.GetString(),
        _ => null,
    };
}
