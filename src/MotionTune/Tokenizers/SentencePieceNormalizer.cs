using System.Text;

namespace MotionTune.Tokenizers;

/// <summary>
/// SentencePiece's text normalisation (<c>normalizer.cc</c>): the compiled character map applied longest-match-first
/// over UTF-8, then whitespace handling: leading, trailing and repeated spaces removed, a dummy space put in front,
/// spaces written as U+2581. Works on UTF-8 bytes as the original does.
/// </summary>
public sealed class SentencePieceNormalizer
{
    private static readonly byte[] SpaceSymbol = "\u2581"u8.ToArray();
    private static readonly byte[] ReplacementChar = "\uFFFD"u8.ToArray();

    private readonly PrecompiledCharsMap? _charsMap;
    private readonly bool _addDummyPrefix, _removeExtraWhitespaces, _escapeWhitespaces, _whitespaceAsSuffix;
    private readonly byte[][] _userDefined;

    /// <summary>Builds the normaliser a model file describes.</summary>
    public SentencePieceNormalizer(SentencePieceModel model, string source)
    {
        _charsMap = model.PrecompiledCharsMap.Length > 0 ? new PrecompiledCharsMap(model.PrecompiledCharsMap, source) : null;
        _addDummyPrefix = model.AddDummyPrefix;
        _removeExtraWhitespaces = model.RemoveExtraWhitespaces;
        _escapeWhitespaces = model.EscapeWhitespaces;
        _whitespaceAsSuffix = model.TreatWhitespaceAsSuffix;
        // User-defined symbols pass through unnormalised (normalizer.cc's PrefixMatcher), longest first.
        _userDefined = model.Pieces.Where(p => p.Type == PieceType.UserDefined).Select(p => Encoding.UTF8.GetBytes(p.Piece))
            .OrderByDescending(p => p.Length).ToArray();
    }

    /// <summary>Normalises <paramref name="text"/> to the UTF-8 bytes the segmenter sees.</summary>
    public byte[] Normalize(string text)
    {
        var input = Encoding.UTF8.GetBytes(text);
        var output = new List<byte>(input.Length * 3);
        int pos = 0;

        if (_removeExtraWhitespaces)
        {
            while (pos < input.Length)
            {
                var (consumed, piece) = NormalizePrefix(input, pos);
                if (!piece.Span.SequenceEqual(" "u8)) break;
                pos += consumed;
            }
        }
        if (pos == input.Length) return [];

        if (!_whitespaceAsSuffix && _addDummyPrefix) AddSpace(output);

        bool previousWasSpace = _removeExtraWhitespaces;
        while (pos < input.Length)
        {
            var (consumed, memory) = NormalizePrefix(input, pos);
            var piece = memory.Span;
            while (previousWasSpace && !piece.IsEmpty && piece[0] == (byte)' ') piece = piece[1..];
            if (!piece.IsEmpty)
            {
                foreach (byte b in piece)
                {
                    if (_escapeWhitespaces && b == (byte)' ') output.AddRange(SpaceSymbol);
                    else output.Add(b);
                }
                previousWasSpace = piece[^1] == (byte)' ';
            }
            pos += consumed;
            if (!_removeExtraWhitespaces) previousWasSpace = false;
        }

        if (_removeExtraWhitespaces)
        {
            ReadOnlySpan<byte> space = _escapeWhitespaces ? SpaceSymbol : " "u8;
            while (output.Count >= space.Length && EndsWith(output, space)) output.RemoveRange(output.Count - space.Length, space.Length);
        }
        if (_whitespaceAsSuffix && _addDummyPrefix) AddSpace(output);
        return [.. output];
    }

    private void AddSpace(List<byte> output)
    {
        if (_escapeWhitespaces) output.AddRange(SpaceSymbol);
        else output.Add((byte)' ');
    }

    private static bool EndsWith(List<byte> bytes, ReadOnlySpan<byte> suffix)
    {
        for (int i = 0; i < suffix.Length; i++)
            if (bytes[bytes.Count - suffix.Length + i] != suffix[i]) return false;
        return true;
    }

    /// <summary>Bytes consumed from <paramref name="input"/> at <paramref name="pos"/> and what they normalise to.</summary>
    private (int Consumed, ReadOnlyMemory<byte> Piece) NormalizePrefix(byte[] input, int pos)
    {
        var rest = input.AsSpan(pos);
        foreach (var symbol in _userDefined)
            if (rest.StartsWith(symbol)) return (symbol.Length, input.AsMemory(pos, symbol.Length));
        if (_charsMap is not null)
        {
            var (length, replacement) = _charsMap.LongestPrefixMatch(rest);
            if (length > 0) return (length, replacement);
        }
        int charLength = Utf8.ValidCharLength(rest);
        // A malformed byte becomes U+FFFD but consumes only itself, as in sentencepiece.
        return charLength > 0 ? (charLength, input.AsMemory(pos, charLength)) : (1, ReplacementChar);
    }
}

/// <summary>UTF-8 helpers shared by the tokenizers.</summary>
internal static class Utf8
{
    /// <summary>Length of the well-formed UTF-8 character at the start of <paramref name="bytes"/>, or 0 if it is malformed.</summary>
    public static int ValidCharLength(ReadOnlySpan<byte> bytes)
    {
        var status = System.Text.Rune.DecodeFromUtf8(bytes, out _, out int consumed);
        return status == System.Buffers.OperationStatus.Done ? consumed : 0;
    }

    /// <summary>Length of the UTF-8 character starting with <paramref name="lead"/> as sentencepiece's OneCharLen computes it.</summary>
    public static int OneCharLength(byte lead) => lead switch
    {
        < 0x80 => 1,
        < 0xC0 => 1,
        < 0xE0 => 2,
        < 0xF0 => 3,
        _ => 4,
    };
}
