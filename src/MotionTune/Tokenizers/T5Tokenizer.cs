using System.Text;

namespace MotionTune.Tokenizers;

/// <summary>
/// T5's tokenizer: SentencePiece unigram segmentation with <c>&lt;/s&gt;</c> appended, pad <c>&lt;pad&gt;</c>, and the
/// sentinel tokens <c>&lt;extra_id_0..N-1&gt;</c> after the SentencePiece vocabulary (<c>&lt;extra_id_0&gt;</c> last).
/// Loads <c>spiece.model</c> with our own reader (T5's model has <c>bos_id=-1</c>) and encodes exactly as the
/// sentencepiece library does; or a <c>tokenizer.json</c> with a Unigram model, encoded as Hugging Face tokenizers does.
/// Latte pads prompts to 120 tokens, CogVideoX to 226.
/// </summary>
public sealed class T5Tokenizer : TextTokenizer
{
    /// <summary>T5Tokenizer's default number of sentinel tokens.</summary>
    public const int DefaultExtraIds = 100;

    private readonly Action<string, bool, List<int>> _encode;

    private T5Tokenizer(Action<string, bool, List<int>> encode, IEnumerable<(string, int)> specialTokens, int eos, int pad, int? maxLength, int vocabSize)
        : base(specialTokens)
    {
        _encode = encode;
        EosId = eos;
        PadId = pad;
        ModelMaxLength = maxLength;
        VocabSize = vocabSize;
    }

    /// <inheritdoc />
    public override int? BosId => null;
    /// <inheritdoc />
    public override int EosId { get; }
    /// <inheritdoc />
    public override int PadId { get; }
    /// <inheritdoc />
    public override int? ModelMaxLength { get; }
    /// <inheritdoc />
    public override int VocabSize { get; }

    /// <summary>
    /// Loads a tokenizer folder: <c>spiece.model</c> if present, else <c>tokenizer.json</c>; special tokens, sentinel
    /// count and <c>model_max_length</c> from <c>tokenizer_config.json</c> / <c>special_tokens_map.json</c> /
    /// <c>added_tokens.json</c>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither <c>spiece.model</c> nor <c>tokenizer.json</c> is present.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or not a unigram model.</exception>
    /// <param name="folder">The tokenizer folder.</param>
    /// <param name="settings">Special tokens and length to use instead of the folder's own settings files.</param>
    public static T5Tokenizer FromFolder(string folder, TokenizerSettings? settings = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Tokenizer folder not found: {folder}");
        settings ??= TokenizerSettings.Load(folder);
        var spmPath = Path.Combine(folder, "spiece.model");
        var jsonPath = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(spmPath)) return FromSentencePiece(SentencePieceModel.Load(spmPath), spmPath, settings);
        if (File.Exists(jsonPath)) return FromTokenizerJson(TokenizerJsonUnigram.Load(jsonPath), settings);
        throw new FileNotFoundException($"No T5 vocabulary in {folder}: expected spiece.model or tokenizer.json.", spmPath);
    }

    /// <summary>Builds the tokenizer from a SentencePiece model and the folder's settings.</summary>
    public static T5Tokenizer FromSentencePiece(SentencePieceModel model, string source, TokenizerSettings settings)
    {
        if (model.ModelType != 1) throw new InvalidDataException($"{source}: model_type {model.ModelType} is not unigram (1).");
        var normalizer = new SentencePieceNormalizer(model, source);
        var unigram = new UnigramModel(model.Pieces, model.UnkId, UnigramFlavor.SentencePiece, model.ByteFallback);

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        int extraIds = settings.ExtraIds ?? DefaultExtraIds;
        for (int i = 0; i < extraIds; i++) added[$"<extra_id_{i}>"] = model.Pieces.Count + extraIds - 1 - i;
        foreach (var (token, id) in settings.AddedTokens) added[token] = id;

        return Build(unigram.IdOf, unigram.VocabSize, added, settings, source, padFallback: "<pad>",
            (text, _, ids) => ids.AddRange(unigram.Encode(normalizer.Normalize(text))));
    }

    /// <summary>Builds the tokenizer from a Unigram <c>tokenizer.json</c> and the folder's settings.</summary>
    public static T5Tokenizer FromTokenizerJson(TokenizerJsonUnigram json, TokenizerSettings settings)
    {
        var added = new Dictionary<string, int>(json.AddedTokens, StringComparer.Ordinal);
        foreach (var (token, id) in settings.AddedTokens) added[token] = id;
        return Build(json.Model.IdOf, json.Model.VocabSize, added, settings, "tokenizer.json", padFallback: json.PadToken ?? "<pad>", json.Encode);
    }

    private static T5Tokenizer Build(Func<string, int?> vocabId, int modelVocabSize, Dictionary<string, int> added,
        TokenizerSettings settings, string source, string padFallback, Action<string, bool, List<int>> encode)
    {
        int? IdOf(string token) => added.TryGetValue(token, out int id) ? id : vocabId(token);
        (string, int) Special(string name, string fallback)
        {
            string token = settings.Token(name) ?? fallback;
            return (token, IdOf(token) ?? throw new InvalidDataException($"{source}: the {name} '{token}' is not in the vocabulary."));
        }

        var eos = Special("eos_token", "</s>");
        var pad = Special("pad_token", padFallback);
        var unk = Special("unk_token", "<unk>");
        var specials = new List<(string, int)> { eos, pad, unk };
        specials.AddRange(added.Select(a => (a.Key, a.Value)));
        foreach (var token in settings.AdditionalSpecialTokens)
            if (IdOf(token) is { } id) specials.Add((token, id));

        int vocabSize = Math.Max(modelVocabSize, specials.Max(s => s.Item2) + 1);
        return new T5Tokenizer(encode, specials, eos.Item2, pad.Item2, settings.ModelMaxLength, vocabSize);
    }

    /// <inheritdoc />
    protected override void EncodeOrdinaryText(string text, bool atTextStart, List<int> ids) => _encode(text, atTextStart, ids);
}
