using System.Collections.Concurrent;
using System.Text;

namespace MotionTune.Tokenizers;

/// <summary>
/// Byte-level byte-pair encoding as GPT-2 and CLIP use it: a word's UTF-8 bytes are spelled with 256 printable
/// characters, then adjacent symbols are merged by merge rank (lowest first) until no ranked pair is left.
/// With an end-of-word suffix (CLIP's <c>&lt;/w&gt;</c>) the last symbol of each word carries it.
/// </summary>
public sealed class ByteLevelBpe
{
    private static readonly char[] ByteToChar = BuildByteAlphabet();

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<(string, string), int> _ranks = [];
    private readonly string _endOfWordSuffix;
    private readonly int _unkId;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <summary>Builds the model from a vocabulary and merges in rank order.</summary>
    public ByteLevelBpe(Dictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges, string endOfWordSuffix, int unkId)
    {
        _vocab = vocab;
        _endOfWordSuffix = endOfWordSuffix;
        _unkId = unkId;
        int rank = 0;
        foreach (var pair in merges) _ranks.TryAdd(pair, rank++);
    }

    /// <summary>The vocabulary, token to id.</summary>
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>Number of merges.</summary>
    public int MergeCount => _ranks.Count;

    /// <summary>
    /// GPT-2's reversible byte alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes map to
    /// U+0100 onwards so that no byte is whitespace or a control character.
    /// </summary>
    private static char[] BuildByteAlphabet()
    {
        var map = new char[256];
        bool Printable(int b) => b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
        int next = 0;
        for (int b = 0; b < 256; b++) map[b] = Printable(b) ? (char)b : (char)(256 + next++);
        return map;
    }

    /// <summary>Spells UTF-8 bytes in the byte alphabet.</summary>
    public static string ToByteAlphabet(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>Ids of one pre-tokenised word; symbols outside the vocabulary become the unknown id, one each.</summary>
    public int[] EncodeWord(string word)
    {
        if (_cache.TryGetValue(word, out var cached)) return cached;
        var symbols = ToByteAlphabet(word).Select(c => c.ToString()).ToList();
        if (symbols.Count == 0) return [];
        symbols[^1] += _endOfWordSuffix;

        while (symbols.Count > 1)
        {
            // The adjacent pair with the lowest merge rank; stop when no pair is ranked.
            int bestRank = int.MaxValue;
            (string, string) best = default;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out int r) && r < bestRank) (bestRank, best) = (r, (symbols[i], symbols[i + 1]));
            if (bestRank == int.MaxValue) break;

            // Merge every occurrence, left to right without overlap.
            var merged = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                {
                    merged.Add(best.Item1 + best.Item2);
                    i++;
                }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }

        var ids = symbols.Select(s => _vocab.TryGetValue(s, out int id) ? id : _unkId).ToArray();
        if (_cache.Count < 100_000) _cache[word] = ids;
        return ids;
    }
}
