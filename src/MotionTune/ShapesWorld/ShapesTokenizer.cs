using System.Text.Json;
using System.Text.Json.Nodes;
using MotionTune.IO;
using MotionTune.Tokenizers;

namespace MotionTune.ShapesWorld;

/// <summary>
/// The tokenizer of the bundled ShapesWorld models, in CLIP's BPE format (<c>vocab.json</c>, <c>merges.txt</c>,
/// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>), so that <see cref="ClipTokenizer"/> and transformers'
/// <c>CLIPTokenizer</c> load it unchanged. Its vocabulary is CLIP's 512 byte-level base symbols (each byte, and each byte
/// ending a word with <c>&lt;/w&gt;</c>, in CLIP's order), then the merges that build every caption word of ShapesWorld
/// (<see cref="Captions.Vocabulary"/>) into one token, then <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c>
/// (which also pads and stands for unknown symbols, as in OpenAI CLIP). Any other text still tokenizes, to characters
/// and the few shared word pieces.
/// </summary>
public static class ShapesTokenizer
{
    /// <summary>Start-of-text token.</summary>
    public const string StartOfText = "<|startoftext|>";
    /// <summary>End-of-text token (also padding and unknown).</summary>
    public const string EndOfText = "<|endoftext|>";
    /// <summary>The default token length: the longest caption has 12 words, 14 tokens with the start and end tokens.</summary>
    public const int DefaultMaxLength = 16;
    private const string EndOfWord = "</w>";

    /// <summary>The vocabulary (token to id) and the merges, in rank order.</summary>
    public static (Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges) Build()
    {
        var symbols = ByteAlphabet();
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in symbols) vocab[s] = vocab.Count;
        foreach (var s in symbols) vocab[s + EndOfWord] = vocab.Count;

        // Each word is encoded with the merges made so far and the pair joining its first two remaining symbols is added,
        // until the word is one token. A new merge ranks after every earlier one, so it never changes how an earlier word
        // encodes (that word's encoding always found a lower-ranked pair until it was one token).
        var merges = new List<(string, string)>();
        foreach (var word in Captions.Vocabulary)
        {
            while (true)
            {
                var pieces = Encode(word, merges);
                if (pieces.Count == 1) break;
                var pair = (pieces[0], pieces[1]);
                merges.Add(pair);
                vocab.TryAdd(pair.Item1 + pair.Item2, vocab.Count);
            }
        }
        vocab[StartOfText] = vocab.Count;
        vocab[EndOfText] = vocab.Count;
        return (vocab, merges);
    }

    /// <summary>
    /// Writes the tokenizer folder (created if needed): <c>vocab.json</c>, <c>merges.txt</c> (with the
    /// <c>#version: 0.2</c> line transformers skips), <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>.
    /// </summary>
    public static void Write(string folder, int maxLength = DefaultMaxLength)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "must leave room for the start and end tokens.");
        Directory.CreateDirectory(folder);
        var (vocab, merges) = Build();
        // Relaxed escaping writes "<|endoftext|>" as such rather than with \u003C escapes (both are valid JSON).
        var options = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var indented = new JsonSerializerOptions(options) { WriteIndented = true };
        AtomicFile.WriteAllText(Path.Combine(folder, "vocab.json"), JsonSerializer.Serialize(vocab, options));
        AtomicFile.WriteAllText(Path.Combine(folder, "merges.txt"),
            "#version: 0.2\n" + string.Concat(merges.Select(m => $"{m.Left} {m.Right}\n")));
        var special = new JsonObject
        {
            ["bos_token"] = StartOfText, ["eos_token"] = EndOfText, ["unk_token"] = EndOfText, ["pad_token"] = EndOfText,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "special_tokens_map.json"), special.ToJsonString(indented));
        var config = new JsonObject
        {
            ["tokenizer_class"] = "CLIPTokenizer",
            ["model_max_length"] = maxLength,
            ["do_lower_case"] = true,
            ["errors"] = "replace",
            ["clean_up_tokenization_spaces"] = false,
            ["add_prefix_space"] = false,
            ["bos_token"] = StartOfText, ["eos_token"] = EndOfText, ["unk_token"] = EndOfText, ["pad_token"] = EndOfText,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(indented));
    }

    /// <summary>
    /// CLIP's byte alphabet in CLIP's vocabulary order: the printable bytes (their own characters) in byte order, then the
    /// other bytes, spelled U+0100 onwards (the map <see cref="ByteLevelBpe.ToByteAlphabet"/> uses).
    /// </summary>
    private static List<string> ByteAlphabet() =>
        Enumerable.Range(0, 256).Where(Printable).Concat(Enumerable.Range(0, 256).Where(b => !Printable(b)))
            .Select(b => ByteChar(b).ToString()).ToList();

    private static bool Printable(int b) => b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';

    /// <summary>The alphabet character of byte <paramref name="b"/>: itself when printable, else U+0100 + its rank among the others.</summary>
    private static char ByteChar(int b) => Printable(b) ? (char)b : (char)(256 + Enumerable.Range(0, b).Count(x => !Printable(x)));

    /// <summary>Byte-level BPE of one ASCII word with the merges so far, as CLIP encodes a word (last symbol carries &lt;/w&gt;).</summary>
    private static List<string> Encode(string word, List<(string Left, string Right)> merges)
    {
        var ranks = new Dictionary<(string, string), int>();
        for (int i = 0; i < merges.Count; i++) ranks.TryAdd(merges[i], i);
        var symbols = ByteLevelBpe.ToByteAlphabet(word).Select(c => c.ToString()).ToList();
        symbols[^1] += EndOfWord;
        while (symbols.Count > 1)
        {
            int best = int.MaxValue, at = -1;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (ranks.TryGetValue((symbols[i], symbols[i + 1]), out int r) && r < best) (best, at) = (r, i);
            if (at < 0) break;
            var (left, right) = (symbols[at], symbols[at + 1]);
            var merged = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && symbols[i] == left && symbols[i + 1] == right) { merged.Add(left + right); i++; }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }
        return symbols;
    }
}
