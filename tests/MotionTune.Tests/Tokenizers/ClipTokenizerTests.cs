using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using MotionTune.Tests.Parity;
using MotionTune.Tokenizers;

namespace MotionTune.Tests.Tokenizers;

/// <summary>
/// The CLIP tokenizer on the fixture's real vocab.json + merges.txt, whose reference ids the fixture lacks (see
/// <see cref="ClipTokenizerParity"/>): cross-checked against Microsoft.ML.Tokenizers' independent BPE, and against ids
/// spelled out from vocab.json by hand.
/// </summary>
public sealed class ClipTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-clip-tok-").FullName;
    private static string CaseDir => Path.Combine(Fixtures.Root, "tokenizer_clip");
    private static readonly Dictionary<string, int> Vocab =
        JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(Path.Combine(CaseDir, "vocab.json")))!;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[] Texts()
    {
        using var fixture = Fixtures.Open("tokenizer_clip");
        return [.. TokenizerFixture.Texts(fixture), "Don't stop 'til it's DONE!!", "ÀÉÎ ünïcödé x2", "a\u00a0b\u2003c"];
    }

    [Fact]
    public void VocabFilesAgreeWithMicrosoftMlTokenizersBpe()
    {
        var ours = ClipTokenizer.FromFolder(CaseDir);
        // The same algorithm assembled from Microsoft.ML.Tokenizers' parts: CLIP's word pattern, lower case, byte level, </w>.
        var options = new BpeOptions(Path.Combine(CaseDir, "vocab.json"), Path.Combine(CaseDir, "merges.txt"))
        {
            PreTokenizer = new RegexPreTokenizer(new Regex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"), null),
            Normalizer = new LowerCaseNormalizer(),
            ByteLevel = true,
            EndOfWordSuffix = "</w>",
            UnknownToken = "<|endoftext|>",
        };
        var reference = BpeTokenizer.Create(options);
        foreach (var text in Texts())
        {
            var expected = reference.EncodeToIds(text).ToArray();
            var actual = ours.EncodeWithoutSpecialTokens(text).ToArray();
            Assert.True(expected.SequenceEqual(actual), $"'{text}': ours [{string.Join(",", actual)}] != ML.Tokenizers [{string.Join(",", expected)}]");
        }
    }

    [Fact]
    public void WholeWordsMapToTheirVocabularyEntries()
    {
        var tokenizer = ClipTokenizer.FromFolder(CaseDir);
        string[] words = ["a", "man", "is", "skiing", "down", "a", "snowy", "mountain", ",", "in", "the", "style", "of", "van", "gogh", "."];
        int[] expected = [Vocab["<|startoftext|>"], .. words.Select(w => Vocab[w + "</w>"]), Vocab["<|endoftext|>"]];
        Assert.Equal(expected, tokenizer.Encode("A Man is SKIING   down a snowy mountain, in the style of Van Gogh."));
        // Whitespace of any kind only separates words.
        Assert.Equal(tokenizer.Encode("a man"), tokenizer.Encode("\t A\n\u00a0MAN  "));
    }

    [Fact]
    public void LowerCasesAsPythonAndRustDo()
    {
        // Full Unicode lower case: a word-final capital sigma becomes ς, dotted capital I becomes i + U+0307.
        Assert.Equal("σας οδος i\u0307stanbul", ClipTokenizer.Normalize("ΣΑΣ  ΟΔΟΣ\tİstanbul"));
        Assert.Equal("caf\u00e9", ClipTokenizer.Normalize("CAFE\u0301")); // NFC first
    }

    [Fact]
    public void PadsTruncatesAndKeepsEndOfText()
    {
        var tokenizer = ClipTokenizer.FromFolder(CaseDir);
        int bos = Vocab["<|startoftext|>"], eos = Vocab["<|endoftext|>"];
        Assert.Equal(77, tokenizer.ModelMaxLength);
        Assert.Equal(eos, tokenizer.PadId);
        using var batch = tokenizer.Encode(["", string.Join(" ", Enumerable.Repeat("red circle", 100))]);
        Assert.Equal([2L, 77L], batch.InputIds.shape);
        var empty = batch.InputIds[0].data<long>().ToArray();
        Assert.Equal([bos, eos], empty.Take(2).Select(i => (int)i));
        Assert.All(empty.Skip(2), id => Assert.Equal(eos, id));
        Assert.Equal(2, batch.AttentionMask[0].sum().item<long>());
        var full = batch.InputIds[1].data<long>().ToArray();
        Assert.Equal(bos, full[0]);
        Assert.Equal(eos, full[76]);
        Assert.Equal(Vocab["red</w>"], full[1]);
        Assert.Equal(77, batch.AttentionMask[1].sum().item<long>());
    }

    [Fact]
    public void PadTokenComesFromTheFolderWithSpecialTokensMapWinning()
    {
        Copy("vocab.json", "merges.txt");
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"),
            """{"pad_token": "<|endoftext|>", "model_max_length": 77, "bos_token": {"content": "<|startoftext|>", "lstrip": false}}""");
        File.WriteAllText(Path.Combine(_dir, "special_tokens_map.json"), """{"pad_token": "!"}""");
        var tokenizer = ClipTokenizer.FromFolder(_dir);
        Assert.Equal(Vocab["!"], tokenizer.PadId);
        using var batch = tokenizer.Encode(["a red circle"], 8);
        Assert.Equal(new long[] { Vocab["<|startoftext|>"], Vocab["a</w>"], Vocab["red</w>"], Vocab["circle</w>"], Vocab["<|endoftext|>"], 0, 0, 0 },
            batch.InputIds[0].data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 0, 0, 0 }, batch.AttentionMask[0].data<long>().ToArray());
        // Like transformers, the pad string in a prompt is matched as the special token, not as BPE text.
        Assert.Equal(Vocab["!"], tokenizer.EncodeWithoutSpecialTokens("red!")[1]);
    }

    [Fact]
    public void TokenizerJsonWithTheFullVocabularyEncodesLikeVocabJsonAndMerges()
    {
        var merges = File.ReadLines(Path.Combine(CaseDir, "merges.txt")).Where(l => !l.StartsWith("#version") && l.Length > 0)
            .Select(l => l.Split(' ')).ToList();
        var json = new
        {
            added_tokens = new[] { new { id = Vocab["<|startoftext|>"], content = "<|startoftext|>", special = true },
                                   new { id = Vocab["<|endoftext|>"], content = "<|endoftext|>", special = true } },
            model = new { type = "BPE", end_of_word_suffix = "</w>", unk_token = "<|endoftext|>", vocab = Vocab, merges },
        };
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), JsonSerializer.Serialize(json));
        var fromJson = ClipTokenizer.FromFolder(_dir);
        var fromFiles = ClipTokenizer.FromFolder(CaseDir);
        foreach (var text in Texts()) Assert.Equal(fromFiles.Encode(text), fromJson.Encode(text));
    }

    [Fact]
    public void MissingFilesAreReportedByName()
    {
        Assert.Throws<DirectoryNotFoundException>(() => ClipTokenizer.FromFolder(Path.Combine(_dir, "absent")));
        var e = Assert.Throws<FileNotFoundException>(() => ClipTokenizer.FromFolder(_dir));
        Assert.Contains("vocab.json", e.Message);
        Assert.Contains("tokenizer.json", e.Message);
        File.WriteAllText(Path.Combine(_dir, "vocab.json"), "[1, 2]");
        File.WriteAllText(Path.Combine(_dir, "merges.txt"), "#version: 0.2\na b\n");
        Assert.Contains("vocab.json", Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(_dir)).Message);
    }

    private void Copy(params string[] files)
    {
        foreach (var f in files) File.Copy(Path.Combine(CaseDir, f), Path.Combine(_dir, f));
    }
}
