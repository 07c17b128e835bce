using System.Text;
using MotionTune.Tokenizers;

namespace MotionTune.Tests.Tokenizers;

/// <summary>Viterbi details of sentencepiece's EncodeOptimized on a hand-made vocabulary.</summary>
public sealed class UnigramModelTests
{
    private static readonly SentencePiece[] Vocab =
    [
        new("<unk>", 0, PieceType.Unknown), new("</s>", 0, PieceType.Control),
        new("a", -2, PieceType.Normal), new("b", -2, PieceType.Normal), new("ab", -3, PieceType.Normal),
        new("<", -1, PieceType.Normal), new(">", -1, PieceType.Normal), new("x", -1, PieceType.Normal),
        new("<x>", 0, PieceType.UserDefined), new("aa", -1, PieceType.Unused),
        new("<0xC3>", 0, PieceType.Byte), new("<0xA9>", 0, PieceType.Byte),
    ];

    private static List<int> Encode(UnigramModel model, string text) => model.Encode(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void BestPathUnknownRunsUserDefinedAndUnusedPieces()
    {
        var model = new UnigramModel(Vocab, unkId: 0, UnigramFlavor.SentencePiece);
        Assert.Equal([4], Encode(model, "ab"));          // -3 beats -2 + -2
        Assert.Equal([2, 2], Encode(model, "aa"));       // the unused piece "aa" never matches
        Assert.Equal([8], Encode(model, "<x>"));         // user-defined symbols win over their parts
        Assert.Equal([2, 0, 3], Encode(model, "aéçb")); // unknown characters in a row are one <unk>
        Assert.Equal([5, 0, 6, 2], Encode(model, "</s>a"));   // control pieces never match text: <, unk(/s), >, a
    }

    [Fact]
    public void ByteFallbackSpellsUnknownCharactersAsBytes()
    {
        var model = new UnigramModel(Vocab, unkId: 0, UnigramFlavor.SentencePiece, byteFallback: true);
        Assert.Equal([2, 10, 11, 3], Encode(model, "aéb")); // é = C3 A9
    }
}
