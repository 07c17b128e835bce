using System.Globalization;
using Microsoft.ML.Tokenizers;
using MotionTune.Tests.Parity;
using MotionTune.Tokenizers;

namespace MotionTune.Tests.Tokenizers;

/// <summary>
/// The T5 tokenizer on the fixture's real spiece.model (trained with bos_id=-1), whose reference ids the fixture lacks
/// (see <see cref="T5TokenizerParity"/>): the model file against the .vocab file the trainer wrote beside it, the
/// segmentation against Microsoft.ML.Tokenizers' SentencePiece on a copy with a bos id, and ids spelled out by hand.
/// </summary>
public sealed class T5TokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-t5-tok-").FullName;
    private static string CaseDir => Path.Combine(Fixtures.Root, "tokenizer_t5");
    private static string ModelPath => Path.Combine(CaseDir, "spiece.model");

    /// <summary>spiece.vocab: one "piece TAB score" line per id.</summary>
    private static readonly (string Piece, float Score)[] VocabFile = File.ReadLines(Path.Combine(CaseDir, "spiece.vocab"))
        .Select(l => l.Split('\t')).Select(p => (p[0], float.Parse(p[1], CultureInfo.InvariantCulture))).ToArray();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Id(string piece) => Array.FindIndex(VocabFile, v => v.Piece == piece) is var i and >= 0 ? i : throw new KeyNotFoundException(piece);

    [Fact]
    public void ModelFileReadsAsTheTrainerDescribedIt()
    {
        var model = SentencePieceModel.Load(ModelPath);
        Assert.Equal(VocabFile.Select(v => v.Piece), model.Pieces.Select(p => p.Piece));
        for (int i = 0; i < VocabFile.Length; i++)
            Assert.True(Math.Abs(VocabFile[i].Score - model.Pieces[i].Score) <= 1e-5 * Math.Max(1, Math.Abs(VocabFile[i].Score)), model.Pieces[i].Piece);
        Assert.Equal((PieceType.Control, PieceType.Control, PieceType.Unknown), (model.Pieces[0].Type, model.Pieces[1].Type, model.Pieces[2].Type));
        Assert.Equal((-1, 1, 2, 0), (model.BosId, model.EosId, model.UnkId, model.PadId));
        Assert.Equal(1, model.ModelType);
        Assert.Equal("nmt_nfkc", model.NormalizerName);
        Assert.True(model.PrecompiledCharsMap.Length > 100_000);
        Assert.True(model.AddDummyPrefix && model.RemoveExtraWhitespaces && model.EscapeWhitespaces);
    }

    [Fact]
    public void SegmentationAgreesWithMicrosoftMlTokenizersOnACopyWithABosId()
    {
        // Microsoft.ML.Tokenizers 2.0.1 throws IndexOutOfRangeException on bos_id=-1, so it reads a copy with bos_id=1.
        var patched = Path.Combine(_dir, "patched.model");
        File.WriteAllBytes(patched, WithBosId(File.ReadAllBytes(ModelPath), 1));
        using var stream = File.OpenRead(patched);
        var reference = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        var ours = T5Tokenizer.FromFolder(CaseDir);

        using var fixture = Fixtures.Open("tokenizer_t5");
        string[] texts = [.. TokenizerFixture.Texts(fixture), "ＦＵＬＬ ｗｉｄｔｈ ａ ｒｅｄ", "ﬁne ① ½ Ⅻ", "\t leading\u3000and  trailing \n", "x"];
        foreach (var text in texts)
        {
            var expected = FuseUnknowns(reference.EncodeToIds(text).ToList(), unkId: 2);
            var actual = ours.EncodeWithoutSpecialTokens(text);
            Assert.True(expected.SequenceEqual(actual), $"'{text}': ours [{string.Join(",", actual)}] != ML.Tokenizers [{string.Join(",", expected)}]");
        }
    }

    [Fact]
    public void WordsMapToTheirPiecesAndEndOfSentenceIsAppended()
    {
        var tokenizer = T5Tokenizer.FromFolder(CaseDir);
        string[] pieces = ["▁a", "▁red", "▁circle", "▁moving", "▁left", "▁on", "▁a", "▁white", "▁background"];
        Assert.Equal([.. pieces.Select(Id), Id("</s>")], tokenizer.Encode("a red circle moving left on a white background"));
        Assert.Equal(tokenizer.Encode("a red"), tokenizer.Encode("   a \t\n  red  "));
        Assert.Equal([Id("</s>")], tokenizer.Encode(""));
        // A run of characters the vocabulary lacks becomes one <unk>.
        Assert.Equal([Id("▁a"), Id("▁"), Id("<unk>"), Id("</s>")], tokenizer.Encode("a 😀😀"));
    }

    [Fact]
    public void PadsAndTruncatesKeepingEndOfSentence()
    {
        var tokenizer = T5Tokenizer.FromFolder(CaseDir);
        Assert.Null(tokenizer.ModelMaxLength);
        Assert.Throws<ArgumentException>(() => tokenizer.Encode(["a"]));
        using var batch = tokenizer.Encode(["a red", string.Join(" ", Enumerable.Repeat("a red", 30))], 16);
        Assert.Equal(new long[] { Id("▁a"), Id("▁red"), Id("</s>"), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, batch.InputIds[0].data<long>().ToArray());
        Assert.Equal(3, batch.AttentionMask[0].sum().item<long>());
        var full = batch.InputIds[1].data<long>().ToArray();
        Assert.Equal(Id("</s>"), full[15]);
        Assert.Equal(Id("▁a"), full[14]);
        Assert.Equal(16, batch.AttentionMask[1].sum().item<long>());
    }

    [Fact]
    public void SentinelTokensFollowTheVocabularyInReverse()
    {
        var tokenizer = T5Tokenizer.FromFolder(CaseDir);
        int n = VocabFile.Length;
        Assert.Equal(n + 100, tokenizer.VocabSize);
        Assert.Equal([n + 99, Id("▁red"), n + 0, Id("</s>"), Id("</s>")], tokenizer.Encode("<extra_id_0> red<extra_id_99></s>"));
    }

    [Fact]
    public void TheFolderSaysWhichTokenizerItHolds()
    {
        Assert.IsType<T5Tokenizer>(TextTokenizer.FromFolder(CaseDir));
        Assert.IsType<T5Tokenizer>(TextTokenizer.FromFolder(Path.Combine(CaseDir, "saved")));
        Assert.IsType<ClipTokenizer>(TextTokenizer.FromFolder(Path.Combine(Fixtures.Root, "tokenizer_clip")));
        Assert.IsType<ClipTokenizer>(TextTokenizer.FromFolder(Path.Combine(Fixtures.Root, "tokenizer_clip", "pad_bang")));
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), """{"tokenizer_class": "LlamaTokenizer"}""");
        Assert.Contains("LlamaTokenizer", Assert.Throws<NotSupportedException>(() => TextTokenizer.FromFolder(_dir)).Message);
    }

    [Fact]
    public void MissingAndForeignFilesAreReported()
    {
        Assert.Throws<DirectoryNotFoundException>(() => T5Tokenizer.FromFolder(Path.Combine(_dir, "absent")));
        Assert.Contains("spiece.model", Assert.Throws<FileNotFoundException>(() => T5Tokenizer.FromFolder(_dir)).Message);
        File.WriteAllBytes(Path.Combine(_dir, "spiece.model"), [0x0A, 0x05, 0x01]);
        Assert.Contains("spiece.model", Assert.Throws<InvalidDataException>(() => T5Tokenizer.FromFolder(_dir)).Message);
    }

    /// <summary>sentencepiece merges a run of unknown pieces into one; Microsoft.ML.Tokenizers leaves them apart.</summary>
    private static List<int> FuseUnknowns(List<int> ids, int unkId) =>
        ids.Where((id, i) => !(id == unkId && i > 0 && ids[i - 1] == unkId)).ToList();

    /// <summary>Rewrites <c>ModelProto.trainer_spec.bos_id</c> (field 2 → field 41) of a serialised model.</summary>
    private static byte[] WithBosId(byte[] model, int bosId)
    {
        var output = new List<byte>();
        foreach (var (field, wire, raw, payload) in Fields(model))
        {
            if (field != 2 || wire != 2) { output.AddRange(raw); continue; }
            var trainer = new List<byte>();
            foreach (var (f, _, r, _) in Fields(payload))
                if (f != 41) trainer.AddRange(r);
            WriteVarint(trainer, 41 << 3);
            WriteVarint(trainer, (ulong)bosId);
            WriteVarint(output, 2 << 3 | 2);
            WriteVarint(output, (ulong)trainer.Count);
            output.AddRange(trainer);
        }
        return [.. output];
    }

    private static IEnumerable<(int Field, int Wire, byte[] Raw, byte[] Payload)> Fields(byte[] data)
    {
        int pos = 0;
        while (pos < data.Length)
        {
            int start = pos;
            ulong tag = ReadVarint(data, ref pos);
            int wire = (int)(tag & 7);
            byte[] payload = [];
            switch (wire)
            {
                case 0: ReadVarint(data, ref pos); break;
                case 1: pos += 8; break;
                case 5: pos += 4; break;
                case 2:
                    int length = (int)ReadVarint(data, ref pos);
                    payload = data[pos..(pos + length)];
                    pos += length;
                    break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
            yield return ((int)(tag >> 3), wire, data[start..pos], payload);
        }
    }

    private static ulong ReadVarint(byte[] data, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }

    private static void WriteVarint(List<byte> output, ulong value)
    {
        for (; value >= 0x80; value >>= 7) output.Add((byte)(value | 0x80));
        output.Add((byte)value);
    }
}
