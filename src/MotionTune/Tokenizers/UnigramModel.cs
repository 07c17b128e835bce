using System.Text;

namespace MotionTune.Tokenizers;

/// <summary>Whose rules a <see cref="UnigramModel"/> follows where the two reference implementations differ.</summary>
public enum UnigramFlavor
{
    /// <summary>
    /// The sentencepiece library (<c>Model::EncodeOptimized</c>): only normal, user-defined and unused pieces can match,
    /// scores add up in float32, the unknown penalty is taken below the lowest normal piece.
    /// </summary>
    SentencePiece,
    /// <summary>
    /// Hugging Face <c>tokenizers</c> (<c>Unigram::encode_optimized</c>): every vocabulary entry can match, scores add up
    /// in float64, the unknown penalty is taken below the lowest score of the whole vocabulary.
    /// </summary>
    HuggingFace,
}

/// <summary>
/// Unigram language-model segmentation: the best-scoring split of a normalised UTF-8 string into vocabulary pieces
/// (Viterbi, keeping one best path per end position), with characters no piece covers scored as unknown and runs of
/// unknowns merged into one unknown token (or spelled as byte pieces with byte fallback).
/// </summary>
public sealed class UnigramModel
{
    private const double UnknownPenalty = 10.0;
    private static readonly float FloatMin = BitConverter.Int32BitsToSingle(0x00800000); // FLT_MIN, the smallest normal float

    private readonly SentencePiece[] _pieces;
    private readonly int _unkId;
    private readonly UnigramFlavor _flavor;
    private readonly bool _byteFallback;
    private readonly double _unkScore, _maxScore;
    private readonly Dictionary<string, int> _idOf = new(StringComparer.Ordinal);

    // A byte trie over the matchable pieces: children per node, and the piece id a node completes (-1 for none).
    private readonly List<Dictionary<byte, int>> _children = [new()];
    private readonly List<int> _pieceAt = [-1];

    /// <summary>Builds the model over a vocabulary in id order.</summary>
    public UnigramModel(IReadOnlyList<SentencePiece> pieces, int unkId, UnigramFlavor flavor, bool byteFallback = false)
    {
        if (unkId < 0 || unkId >= pieces.Count) throw new ArgumentOutOfRangeException(nameof(unkId), $"unk id {unkId} is outside the vocabulary of {pieces.Count}.");
        _pieces = [.. pieces];
        _unkId = unkId;
        _flavor = flavor;
        _byteFallback = byteFallback;

        double minScore = double.PositiveInfinity;
        _maxScore = FloatMin; // sentencepiece starts from C's FLT_MIN, so with all-negative scores it stays ~0
        for (int id = 0; id < _pieces.Length; id++)
        {
            var p = _pieces[id];
            _idOf.TryAdd(p.Piece, id);
            bool scored = flavor == UnigramFlavor.HuggingFace || p.Type == PieceType.Normal;
            if (scored) minScore = Math.Min(minScore, p.Score);
            if (p.Type == PieceType.Normal) _maxScore = Math.Max(_maxScore, p.Score);
            bool matchable = flavor == UnigramFlavor.HuggingFace
                || p.Type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused;
            if (matchable && p.Piece.Length > 0) Insert(Encoding.UTF8.GetBytes(p.Piece), id);
        }
        if (double.IsInfinity(minScore)) minScore = 0;
        _unkScore = flavor == UnigramFlavor.SentencePiece ? (float)(minScore - UnknownPenalty) : minScore - UnknownPenalty;
    }

    /// <summary>The vocabulary size.</summary>
    public int VocabSize => _pieces.Length;

    /// <summary>The id of <paramref name="piece"/>, or null when it is not in the vocabulary.</summary>
    public int? IdOf(string piece) => _idOf.TryGetValue(piece, out int id) ? id : null;

    /// <summary>The piece with id <paramref name="id"/>.</summary>
    public SentencePiece PieceOf(int id) => _pieces[id];

    private void Insert(byte[] key, int id)
    {
        int node = 0;
        foreach (byte b in key)
        {
            if (!_children[node].TryGetValue(b, out int next))
            {
                next = _children.Count;
                _children.Add([]);
                _pieceAt.Add(-1);
                _children[node][b] = next;
            }
            node = next;
        }
        if (_pieceAt[node] < 0) _pieceAt[node] = id;
    }

    /// <summary>Segments a normalised UTF-8 string and returns the ids.</summary>
    public List<int> Encode(ReadOnlySpan<byte> normalized)
    {
        var ids = new List<int>();
        if (normalized.IsEmpty) return ids;
        int size = normalized.Length;
        var bestScore = new double[size + 1];
        var bestStart = new int[size + 1];
        var bestId = new int[size + 1];
        Array.Fill(bestStart, -1);
        Array.Fill(bestId, -1);

        int start = 0;
        while (start < size)
        {
            double tillHere = bestScore[start];
            int charLength = Math.Min(Utf8.OneCharLength(normalized[start]), size - start);
            bool hasSingleCharPiece = false;
            int node = 0;
            for (int end = start; end < size; end++)
            {
                if (!_children[node].TryGetValue(normalized[end], out node)) break;
                int id = _pieceAt[node];
                if (id < 0) continue;
                var piece = _pieces[id];
                if (_flavor == UnigramFlavor.SentencePiece && piece.Type == PieceType.Unused) continue;
                int length = end + 1 - start;
                double score = _flavor == UnigramFlavor.SentencePiece && piece.Type == PieceType.UserDefined
                    ? length * _maxScore - 0.1 // user-defined symbols always win, as in sentencepiece
                    : piece.Score;
                Relax(end + 1, Add(score, tillHere), start, id);
                if (length == charLength) hasSingleCharPiece = true;
            }
            if (!hasSingleCharPiece) Relax(start + charLength, Add(_unkScore, tillHere), start, _unkId);
            start += charLength;
        }

        // Backtrack, then restore reading order.
        var path = new List<(int Start, int End, int Id)>();
        for (int end = size; end > 0; end = bestStart[end]) path.Add((bestStart[end], end, bestId[end]));
        path.Reverse();

        bool previousUnknown = false;
        foreach (var (s, e, id) in path)
        {
            bool unknown = id == _unkId;
            if (unknown && _byteFallback)
            {
                foreach (byte b in normalized[s..e])
                    ids.Add(IdOf($"<0x{b:X2}>") ?? _unkId);
            }
            else if (!(unknown && previousUnknown)) ids.Add(id); // a run of unknowns becomes one unknown token
            previousUnknown = unknown && !_byteFallback;
        }
        return ids;

        void Relax(int end, double candidate, int from, int id)
        {
            if (bestStart[end] == -1 || candidate > bestScore[end])
            {
                bestScore[end] = candidate;
                bestStart[end] = from;
                bestId[end] = id;
            }
        }
    }

    // sentencepiece accumulates path scores in float32; tokenizers in float64.
    private double Add(double score, double tillHere) =>
        _flavor == UnigramFlavor.SentencePiece ? (float)((float)score + (float)tillHere) : score + tillHere;
}
