using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MotionTune.Tokenizers;

/// <summary>
/// A Unigram tokenizer as a Hugging Face <c>tokenizer.json</c> describes it: normaliser, pre-tokeniser, then the
/// Unigram model on each pre-token. Supports what T5-family files use: normalisers <c>Precompiled</c>,
/// <c>Replace</c>, <c>Strip</c>, <c>NFC/NFD/NFKC/NFKD</c>, <c>Lowercase</c>, <c>Sequence</c>; pre-tokenisers
/// <c>Metaspace</c>, <c>WhitespaceSplit</c>, <c>Sequence</c>.
/// </summary>
public sealed class TokenizerJsonUnigram
{
    private readonly List<Func<string, string>> _normalizers = [];
    private readonly List<Func<string, bool, IEnumerable<string>>> _preTokenizers = [];

    /// <summary>The Unigram model.</summary>
    public UnigramModel Model { get; }
    /// <summary>Added tokens (content to id) listed by the file.</summary>
    public Dictionary<string, int> AddedTokens { get; } = new(StringComparer.Ordinal);
    /// <summary>The pad token named in the file's padding section, or null.</summary>
    public string? PadToken { get; }

    private TokenizerJsonUnigram(JsonElement root, string path)
    {
        var model = root.GetProperty("model");
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (type != "Unigram") throw new InvalidDataException($"{path}: model type '{type}' is not Unigram.");
        var pieces = model.GetProperty("vocab").EnumerateArray()
            .Select(e => new SentencePiece(e[0].GetString()!, (float)e[1].GetDouble(), PieceType.Normal)).ToList();
        int unkId = model.TryGetProperty("unk_id", out var u) && u.ValueKind == JsonValueKind.Number ? u.GetInt32()
            : throw new InvalidDataException($"{path}: the Unigram model has no unk_id.");
        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        Model = new UnigramModel(pieces, unkId, UnigramFlavor.HuggingFace, byteFallback);

        if (root.TryGetProperty("normalizer", out var normalizer)) AddNormalizer(normalizer, path);
        if (root.TryGetProperty("pre_tokenizer", out var preTokenizer)) AddPreTokenizer(preTokenizer, path);
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var token in added.EnumerateArray()) AddedTokens[token.GetProperty("content").GetString()!] = token.GetProperty("id").GetInt32();
        if (root.TryGetProperty("padding", out var padding) && padding.ValueKind == JsonValueKind.Object && padding.TryGetProperty("pad_token", out var pt))
            PadToken = pt.GetString();
    }

    /// <summary>Reads a <c>tokenizer.json</c> with a Unigram model.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or uses a component this reader does not support.</exception>
    public static TokenizerJsonUnigram Load(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return new TokenizerJsonUnigram(doc.RootElement, path);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a valid Unigram tokenizer.json: {e.Message}", e);
        }
    }

    /// <summary>Appends the ids of ordinary text to <paramref name="ids"/>.</summary>
    public void Encode(string text, bool atTextStart, List<int> ids)
    {
        foreach (var normalize in _normalizers) text = normalize(text);
        IEnumerable<(string Piece, bool First)> pieces = [(text, atTextStart)];
        foreach (var split in _preTokenizers)
            pieces = pieces.SelectMany(p => split(p.Piece, p.First).Select((s, i) => (s, p.First && i == 0))).ToList();
        foreach (var (piece, _) in pieces)
            if (piece.Length > 0) ids.AddRange(Model.Encode(Encoding.UTF8.GetBytes(piece)));
    }

    private void AddNormalizer(JsonElement spec, string path)
    {
        if (spec.ValueKind == JsonValueKind.Null) return;
        string type = spec.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var inner in spec.GetProperty("normalizers").EnumerateArray()) AddNormalizer(inner, path);
                break;
            case "Precompiled":
                var blob = spec.GetProperty("precompiled_charsmap");
                if (blob.ValueKind == JsonValueKind.Null) break;
                var map = new PrecompiledCharsMap(Convert.FromBase64String(blob.GetString()!), path);
                _normalizers.Add(text => ApplyPrecompiled(map, text));
                break;
            case "Replace":
                var pattern = spec.GetProperty("pattern");
                string content = spec.GetProperty("content").GetString()!;
                if (pattern.TryGetProperty("String", out var literal))
                {
                    string from = literal.GetString()!;
                    _normalizers.Add(text => text.Replace(from, content, StringComparison.Ordinal));
                }
                else
                {
                    var regex = new Regex(pattern.GetProperty("Regex").GetString()!, RegexOptions.CultureInvariant);
                    _normalizers.Add(text => regex.Replace(text, content));
                }
                break;
            case "Strip":
                bool left = spec.TryGetProperty("strip_left", out var l) && l.GetBoolean();
                bool right = spec.TryGetProperty("strip_right", out var r) && r.GetBoolean();
                _normalizers.Add(text => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text);
                break;
            case "NFC": _normalizers.Add(text => text.Normalize(NormalizationForm.FormC)); break;
            case "NFD": _normalizers.Add(text => text.Normalize(NormalizationForm.FormD)); break;
            case "NFKC": _normalizers.Add(text => text.Normalize(NormalizationForm.FormKC)); break;
            case "NFKD": _normalizers.Add(text => text.Normalize(NormalizationForm.FormKD)); break;
            case "Lowercase": _normalizers.Add(text => text.ToLowerInvariant()); break;
            default: throw new InvalidDataException($"{path}: normalizer '{type}' is not supported.");
        }
    }

    /// <summary>
    /// Hugging Face's <c>Precompiled</c>: a whole grapheme cluster under 6 bytes is replaced when a rule matches its
    /// start; otherwise each character is looked up alone.
    /// </summary>
    private static string ApplyPrecompiled(PrecompiledCharsMap map, string text)
    {
        var result = new StringBuilder(text.Length);
        var graphemes = StringInfo.GetTextElementEnumerator(text);
        while (graphemes.MoveNext())
        {
            string grapheme = graphemes.GetTextElement();
            var bytes = Encoding.UTF8.GetBytes(grapheme);
            if (bytes.Length < 6)
            {
                var (length, replacement) = map.ShortestPrefixMatch(bytes);
                if (length > 0) { result.Append(Encoding.UTF8.GetString(replacement.Span)); continue; }
            }
            foreach (var rune in grapheme.EnumerateRunes())
            {
                var (length, replacement) = map.ShortestPrefixMatch(Encoding.UTF8.GetBytes(rune.ToString()));
                result.Append(length > 0 ? Encoding.UTF8.GetString(replacement.Span) : rune.ToString());
            }
        }
        return result.ToString();
    }

    private void AddPreTokenizer(JsonElement spec, string path)
    {
        if (spec.ValueKind == JsonValueKind.Null) return;
        string type = spec.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var inner in spec.GetProperty("pretokenizers").EnumerateArray()) AddPreTokenizer(inner, path);
                break;
            case "WhitespaceSplit":
                _preTokenizers.Add((text, _) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                break;
            case "Metaspace":
                string replacement = spec.GetProperty("replacement").GetString()!;
                // Newer files write prepend_scheme; older ones add_prefix_space.
                string scheme = spec.TryGetProperty("prepend_scheme", out var ps) ? ps.GetString()!
                    : spec.TryGetProperty("add_prefix_space", out var aps) && !aps.GetBoolean() ? "never" : "always";
                bool split = !spec.TryGetProperty("split", out var sp) || sp.GetBoolean();
                _preTokenizers.Add((text, first) => Metaspace(text, first, replacement, scheme, split));
                break;
            default: throw new InvalidDataException($"{path}: pre_tokenizer '{type}' is not supported.");
        }
    }

    private static IEnumerable<string> Metaspace(string text, bool first, string replacement, string scheme, bool split)
    {
        text = text.Replace(" ", replacement, StringComparison.Ordinal);
        bool prepend = scheme == "always" || (scheme == "first" && first);
        if (prepend && !text.StartsWith(replacement, StringComparison.Ordinal)) text = replacement + text;
        if (!split || text.Length <= 1) return [text];
        // Split before each replacement, which stays with the word after it.
        var pieces = new List<string>();
        int start = 0;
        for (int i = text.IndexOf(replacement, 1, StringComparison.Ordinal); i > 0; i = text.IndexOf(replacement, i + 1, StringComparison.Ordinal))
        {
            pieces.Add(text[start..i]);
            start = i;
        }
        if (start < text.Length) pieces.Add(text[start..]);
        return pieces;
    }
}
