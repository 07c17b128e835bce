namespace MotionTune.Tokenizers;

/// <summary>
/// What the text-to-video pipelines need from a tokenizer: each prompt to ids with the model's special tokens, truncated
/// and padded to a fixed length, as <c>tokenizer(prompts, padding="max_length", max_length=n, truncation=True)</c> does.
/// Special tokens written in the text itself (e.g. <c>&lt;/s&gt;</c>) are recognised first, as transformers does.
/// </summary>
public abstract class TextTokenizer
{
    private readonly List<(string Text, int Id)> _specialTokens;

    /// <summary>Creates the tokenizer with the strings that are matched in raw text as single tokens.</summary>
    protected TextTokenizer(IEnumerable<(string Text, int Id)> specialTokens)
    {
        // Longest first, so that of two tokens starting at one position the longer wins.
        _specialTokens = specialTokens.Where(t => t.Text.Length > 0).DistinctBy(t => t.Text)
            .OrderByDescending(t => t.Text.Length).ToList();
    }

    /// <summary>
    /// Loads the tokenizer of a checkpoint's tokenizer folder, choosing by <c>tokenizer_class</c> in
    /// <c>tokenizer_config.json</c> (CLIPTokenizer, T5Tokenizer and their Fast forms) or, without it, by the files present.
    /// </summary>
    /// <exception cref="NotSupportedException">The folder holds another kind of tokenizer.</exception>
    public static TextTokenizer FromFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Tokenizer folder not found: {folder}");
        string? tokenizerClass = null;
        var configPath = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(configPath));
            if (doc.RootElement.TryGetProperty("tokenizer_class", out var c)) tokenizerClass = c.GetString();
        }
        return tokenizerClass switch
        {
            "CLIPTokenizer" or "CLIPTokenizerFast" => ClipTokenizer.FromFolder(folder),
            "T5Tokenizer" or "T5TokenizerFast" => T5Tokenizer.FromFolder(folder),
            null when File.Exists(Path.Combine(folder, "spiece.model")) => T5Tokenizer.FromFolder(folder),
            null when File.Exists(Path.Combine(folder, "merges.txt")) => ClipTokenizer.FromFolder(folder),
            _ => throw new NotSupportedException(
                $"{folder}: tokenizer class '{tokenizerClass ?? "unknown"}' is not supported (CLIPTokenizer and T5Tokenizer are)."),
        };
    }

    /// <summary>Id put in front of every sequence, or null.</summary>
    public abstract int? BosId { get; }
    /// <summary>Id put at the end of every sequence (kept when truncating).</summary>
    public abstract int EosId { get; }
    /// <summary>Id used for padding.</summary>
    public abstract int PadId { get; }
    /// <summary>The folder's <c>model_max_length</c>, the default length of <see cref="Encode(IEnumerable{string}, int?)"/>; null if none.</summary>
    public abstract int? ModelMaxLength { get; }
    /// <summary>Number of ids (vocabulary plus added tokens).</summary>
    public abstract int VocabSize { get; }

    /// <summary>
    /// Appends the ids of ordinary text (no special tokens inside) to <paramref name="ids"/>;
    /// <paramref name="atTextStart"/> tells whether the segment begins the whole text.
    /// </summary>
    protected abstract void EncodeOrdinaryText(string text, bool atTextStart, List<int> ids);

    /// <summary>Ids of <paramref name="text"/> without BOS/EOS; special tokens in the text become their ids.</summary>
    public List<int> EncodeWithoutSpecialTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        int segmentStart = 0, i = 0;
        while (i < text.Length)
        {
            var match = _specialTokens.FirstOrDefault(t => string.CompareOrdinal(text, i, t.Text, 0, t.Text.Length) == 0);
            if (match.Text is null) { i++; continue; }
            if (i > segmentStart) EncodeOrdinaryText(text[segmentStart..i], segmentStart == 0, ids);
            ids.Add(match.Id);
            i += match.Text.Length;
            segmentStart = i;
        }
        if (segmentStart < text.Length) EncodeOrdinaryText(text[segmentStart..], segmentStart == 0, ids);
        return ids;
    }

    /// <summary>
    /// Ids of <paramref name="text"/> with BOS (if any) and EOS; with <paramref name="maxLength"/> the text is cut so that
    /// the whole sequence, EOS included, fits.
    /// </summary>
    public int[] Encode(string text, int? maxLength = null)
    {
        var content = EncodeWithoutSpecialTokens(text);
        int specials = (BosId.HasValue ? 1 : 0) + 1;
        if (maxLength is { } max)
        {
            if (max < specials) throw new ArgumentOutOfRangeException(nameof(maxLength), $"max length {max} leaves no room for the special tokens.");
            if (content.Count > max - specials) content.RemoveRange(max - specials, content.Count - (max - specials));
        }
        var ids = new List<int>(content.Count + specials);
        if (BosId is { } bos) ids.Add(bos);
        ids.AddRange(content);
        ids.Add(EosId);
        return [.. ids];
    }

    /// <summary>
    /// Encodes a batch, truncating and padding every row to <paramref name="maxLength"/> (default
    /// <see cref="ModelMaxLength"/>).
    /// </summary>
    /// <exception cref="ArgumentException">No length was given and the tokenizer folder sets none.</exception>
    public TokenizedBatch Encode(IEnumerable<string> texts, int? maxLength = null)
    {
        int length = maxLength ?? ModelMaxLength
            ?? throw new ArgumentException($"{GetType().Name}: give a max length; the tokenizer folder sets no model_max_length.", nameof(maxLength));
        var rows = texts.Select(t => Encode(t, length)).ToList();
        return new TokenizedBatch(rows, length, PadId);
    }
}
