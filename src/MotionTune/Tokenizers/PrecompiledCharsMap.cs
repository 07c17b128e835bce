using System.Buffers.Binary;

namespace MotionTune.Tokenizers;

/// <summary>
/// SentencePiece's compiled normalisation table (<c>NormalizerSpec.precompiled_charsmap</c>, e.g. <c>nmt_nfkc</c>):
/// a darts-clone double-array trie over UTF-8 byte strings whose values point into a blob of NUL-terminated
/// replacements. Layout: a little-endian uint32 trie size in bytes, the trie's 32-bit units, then the blob.
/// </summary>
public sealed class PrecompiledCharsMap
{
    private readonly uint[] _units;
    private readonly byte[] _replacements;

    /// <summary>Decodes a table; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The table is malformed.</exception>
    public PrecompiledCharsMap(ReadOnlySpan<byte> blob, string source)
    {
        if (blob.Length <= 4) throw new InvalidDataException($"{source}: the normalisation table is truncated.");
        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieSize >= blob.Length - 4 + 1 || trieSize % 4 != 0)
            throw new InvalidDataException($"{source}: the normalisation table's trie size {trieSize} does not fit its {blob.Length} bytes.");
        _units = new uint[trieSize / 4];
        for (int i = 0; i < _units.Length; i++) _units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob[(4 + 4 * i)..]);
        _replacements = blob[(4 + (int)trieSize)..].ToArray();
    }

    /// <summary>
    /// The longest rule matching a prefix of <paramref name="input"/>: the number of input bytes it consumes and its
    /// replacement; (0, empty) when no rule matches.
    /// </summary>
    public (int Length, ReadOnlyMemory<byte> Replacement) LongestPrefixMatch(ReadOnlySpan<byte> input) => Match(input, longest: true);

    /// <summary>
    /// The shortest rule matching a prefix of <paramref name="input"/>, as Hugging Face's <c>Precompiled</c> normaliser
    /// looks rules up (it then replaces its whole chunk); (0, empty) when none matches.
    /// </summary>
    public (int Length, ReadOnlyMemory<byte> Replacement) ShortestPrefixMatch(ReadOnlySpan<byte> input) => Match(input, longest: false);

    private (int Length, ReadOnlyMemory<byte> Replacement) Match(ReadOnlySpan<byte> input, bool longest)
    {
        int length = 0, value = 0;
        if (_units.Length == 0) return (0, default);
        // darts-clone commonPrefixSearch: walk the bytes, XOR-ing offsets; a unit with a leaf marks a complete key.
        uint node = Offset(_units[0]);
        for (int i = 0; i < input.Length; i++)
        {
            byte c = input[i];
            node ^= c;
            if (node >= _units.Length) break;
            uint unit = _units[node];
            if (Label(unit) != c) break;
            node ^= Offset(unit);
            if (HasLeaf(unit) && node < _units.Length)
            {
                length = i + 1;
                value = (int)Value(_units[node]);
                if (!longest) break;
            }
        }
        if (length == 0) return (0, default);
        if (value >= _replacements.Length) throw new InvalidDataException($"normalisation rule points past the table ({value}).");
        int end = Array.IndexOf(_replacements, (byte)0, value);
        return (length, _replacements.AsMemory(value, (end < 0 ? _replacements.Length : end) - value));
    }

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;
    private static uint Value(uint unit) => unit & ((1u << 31) - 1);
    private static uint Label(uint unit) => unit & ((1u << 31) | 0xFF);
    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}
