using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MotionTune.Tokenizers;

/// <summary>
/// CLIP's tokenizer: NFC, whitespace runs to one space, lower case; words split as CLIP's pattern does
/// (<c>'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+</c>, whitespace dropped); byte-level BPE with
/// <c>&lt;/w&gt;</c> ending each word; <c>&lt;|startoftext|&gt;</c> … <c>&lt;|endoftext|&gt;</c> around the text.
/// The pad token comes from the folder: OpenAI CLIP pads with <c>&lt;|endoftext|&gt;</c>, the OpenCLIP-H text encoder
/// ModelScope ships pads with <c>!</c>.
/// </summary>
public sealed class ClipTokenizer : TextTokenizer
{
    /// <summary>The default length of CLIP text models (their 77 positions), used when the folder sets none.</summary>
    public const int DefaultMaxLength = 77;

    private readonly ByteLevelBpe _bpe;

    private ClipTokenizer(ByteLevelBpe bpe, IEnumerable<(string, int)> specialTokens, int bos, int eos, int pad, int? maxLength, int vocabSize)
        : base(specialTokens)
    {
        _bpe = bpe;
        BosId = bos;
        EosId = eos;
        PadId = pad;
        ModelMaxLength = maxLength;
        VocabSize = vocabSize;
    }

    /// <inheritdoc />
    public override int? BosId { get; }
    /// <inheritdoc />
    public override int EosId { get; }
    /// <inheritdoc />
    public override int PadId { get; }
    /// <inheritdoc />
    public override int? ModelMaxLength { get; }
    /// <inheritdoc />
    public override int VocabSize { get; }

    /// <summary>
    /// Loads a tokenizer folder: <c>vocab.json</c> + <c>merges.txt</c>, or <c>tokenizer.json</c> where only that is
    /// shipped; special tokens and <c>model_max_length</c> from <c>tokenizer_config.json</c> /
    /// <c>special_tokens_map.json</c> (default length <see cref="DefaultMaxLength"/>).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither vocabulary format is present.</exception>
    /// <param name="folder">The tokenizer folder.</param>
    /// <param name="settings">Special tokens and length to use instead of the folder's own settings files.</param>
    /// <exception cref="InvalidDataException">A file is malformed or describes a different kind of tokenizer.</exception>
    public static ClipTokenizer FromFolder(string folder, TokenizerSettings? settings = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Tokenizer folder not found: {folder}");
        settings ??= TokenizerSettings.Load(folder);
        string vocabPath = Path.Combine(folder, "vocab.json"), mergesPath = Path.Combine(folder, "merges.txt");
        string jsonPath = Path.Combine(folder, "tokenizer.json");

        Dictionary<string, int> vocab;
        List<(string, string)> merges;
        var added = new Dictionary<string, int>(settings.AddedTokens, StringComparer.Ordinal);
        string? jsonPad = null;
        if (File.Exists(vocabPath) && File.Exists(mergesPath))
        {
            vocab = ReadVocab(vocabPath);
            merges = ReadMerges(mergesPath);
        }
        else if (File.Exists(jsonPath))
        {
            (vocab, merges, jsonPad) = ReadTokenizerJson(jsonPath, added);
        }
        else
        {
            throw new FileNotFoundException(
                $"No CLIP vocabulary in {folder}: expected vocab.json + merges.txt or tokenizer.json.", Path.Combine(folder, "vocab.json"));
        }

        int nextId = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Values.Max() + 1);
        int IdOf(string token)
        {
            if (added.TryGetValue(token, out int id) || vocab.TryGetValue(token, out id)) return id;
            // transformers adds a special token the vocabulary lacks at the end of it.
            added[token] = nextId;
            return nextId++;
        }

        string bos = settings.Token("bos_token") ?? "<|startoftext|>";
        string eos = settings.Token("eos_token") ?? "<|endoftext|>";
        string unk = settings.Token("unk_token") ?? "<|endoftext|>";
        string pad = settings.Token("pad_token") ?? jsonPad ?? "<|endoftext|>";
        int bosId = IdOf(bos), eosId = IdOf(eos), unkId = IdOf(unk), padId = IdOf(pad);

        var bpe = new ByteLevelBpe(vocab, merges, "</w>", unkId);
        var specials = new List<(string, int)> { (bos, bosId), (eos, eosId), (unk, unkId), (pad, padId) };
        specials.AddRange(added.Select(a => (a.Key, a.Value)));
        foreach (var token in settings.AdditionalSpecialTokens) specials.Add((token, IdOf(token)));
        int vocabSize = Math.Max(nextId, vocab.Count);
        return new ClipTokenizer(bpe, specials, bosId, eosId, padId, settings.ModelMaxLength ?? DefaultMaxLength, vocabSize);
    }

    /// <inheritdoc />
    protected override void EncodeOrdinaryText(string text, bool atTextStart, List<int> ids)
    {
        foreach (var word in PreTokenize(Normalize(text))) ids.AddRange(_bpe.EncodeWord(word));
    }

    /// <summary>NFC, every whitespace run to one space, full Unicode lower case.</summary>
    public static string Normalize(string text)
    {
        text = text.Normalize(NormalizationForm.FormC);
        var collapsed = new StringBuilder(text.Length);
        bool inSpace = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                if (!inSpace) collapsed.Append(' ');
                inSpace = true;
            }
            else
            {
                collapsed.Append(c);
                inSpace = false;
            }
        }
        return Lowercase(collapsed.ToString());
    }

    /// <summary>
    /// Lower case with the two context rules Python's <c>str.lower</c> and Rust's <c>to_lowercase</c> apply and .NET's
    /// simple mapping lacks: U+0130 becomes "i" + U+0307, and a word-final capital sigma becomes ς.
    /// </summary>
    private static string Lowercase(string text)
    {
        if (!text.Contains('\u0130') && !text.Contains('\u03A3')) return text.ToLowerInvariant();
        var result = new StringBuilder(text.Length + 4);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\u0130') result.Append("i\u0307");
            else if (c == '\u03A3')
            {
                bool afterLetter = i > 0 && char.IsLetter(text[i - 1]);
                bool beforeLetter = i + 1 < text.Length && char.IsLetter(text[i + 1]);
                result.Append(afterLetter && !beforeLetter ? '\u03C2' : '\u03C3');
            }
            else result.Append(char.ToLowerInvariant(c));
        }
        return result.ToString();
    }

    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
    private static readonly string[] SpecialWords = ["<|startoftext|>", "<|endoftext|>"];

    /// <summary>
    /// CLIP's word pattern, scanned by Unicode scalar: at each position the first alternative that matches wins
    /// (special words, contractions, a letter run, one number, a run of anything else); whitespace is dropped.
    /// </summary>
    public static IEnumerable<string> PreTokenize(string text)
    {
        int i = 0;
        while (i < text.Length)
        {
            var rune = Rune.GetRuneAt(text, i);
            if (Rune.IsWhiteSpace(rune)) { i += rune.Utf16SequenceLength; continue; }
            string? fixedWord = SpecialWords.Concat(Contractions).FirstOrDefault(w => string.CompareOrdinal(text, i, w, 0, w.Length) == 0);
            if (fixedWord is not null)
            {
                yield return fixedWord;
                i += fixedWord.Length;
                continue;
            }
            var kind = KindOf(rune);
            int start = i;
            i += rune.Utf16SequenceLength;
            if (kind != RuneKind.Number)
            {
                while (i < text.Length)
                {
                    var next = Rune.GetRuneAt(text, i);
                    if (KindOf(next) != kind) break;
                    i += next.Utf16SequenceLength;
                }
            }
            yield return text[start..i];
        }
    }

    private enum RuneKind { Letter, Number, Space, Other }

    private static RuneKind KindOf(Rune rune)
    {
        if (Rune.IsWhiteSpace(rune)) return RuneKind.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => RuneKind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => RuneKind.Number,
            _ => RuneKind.Other,
        };
    }

    private static Dictionary<string, int> ReadVocab(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(path))
                ?? throw new InvalidDataException($"{path}: empty vocabulary.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a token-to-id JSON object: {e.Message}", e);
        }
    }

    private static List<(string, string)> ReadMerges(string path)
    {
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2) throw new InvalidDataException($"{path}:{lineNumber}: a merge must be two symbols separated by one space, got '{line}'.");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }

    /// <summary>Reads a <c>tokenizer.json</c> holding a CLIP-style BPE model; added tokens go into <paramref name="added"/>.</summary>
    private static (Dictionary<string, int> Vocab, List<(string, string)> Merges, string? Pad) ReadTokenizerJson(
        string path, Dictionary<string, int> added)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            var model = root.GetProperty("model");
            string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
            string suffix = model.TryGetProperty("end_of_word_suffix", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            if (type != "BPE" || suffix != "</w>")
                throw new InvalidDataException($"{path}: a {type} model with end-of-word suffix '{suffix}' is not a CLIP tokenizer (BPE with '</w>').");

            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var p in model.GetProperty("vocab").EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
            var merges = new List<(string, string)>();
            foreach (var m in model.GetProperty("merges").EnumerateArray())
            {
                // Older files write "a b", newer ones ["a", "b"].
                if (m.ValueKind == JsonValueKind.Array) merges.Add((m[0].GetString()!, m[1].GetString()!));
                else
                {
                    var parts = m.GetString()!.Split(' ');
                    if (parts.Length != 2) throw new InvalidDataException($"{path}: bad merge '{m.GetString()}'.");
                    merges.Add((parts[0], parts[1]));
                }
            }
            if (root.TryGetProperty("added_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
                foreach (var token in list.EnumerateArray()) added[token.GetProperty("content").GetString()!] = token.GetProperty("id").GetInt32();
            string? pad = root.TryGetProperty("padding", out var padding) && padding.ValueKind == JsonValueKind.Object
                && padding.TryGetProperty("pad_token", out var pt) ? pt.GetString() : null;
            return (vocab, merges, pad);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a valid tokenizer.json: {e.Message}", e);
        }
    }
}
