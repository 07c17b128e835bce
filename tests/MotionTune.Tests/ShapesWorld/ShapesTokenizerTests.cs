using System.Text.Json;
using MotionTune.ShapesWorld;
using MotionTune.Tests.Parity;
using MotionTune.Tokenizers;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The bundled models' tokenizer: CLIP's format, one token per caption word, any text still tokenized.</summary>
public sealed class ShapesTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-shapes-tokenizer-").FullName;
    private readonly ClipTokenizer _tokenizer;

    public ShapesTokenizerTests()
    {
        ShapesTokenizer.Write(_dir);
        _tokenizer = (ClipTokenizer)TextTokenizer.FromFolder(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EveryCaptionWordIsOneToken()
    {
        var (vocab, _) = ShapesTokenizer.Build();
        foreach (var word in Captions.Vocabulary)
        {
            var ids = _tokenizer.EncodeWithoutSpecialTokens(word);
            Assert.True(ids.Count == 1, $"'{word}' encodes to {ids.Count} tokens");
            Assert.Equal(vocab[word + "</w>"], ids[0]);
        }
        Assert.Equal(Captions.Vocabulary.Count, Captions.Vocabulary.Select(w => _tokenizer.EncodeWithoutSpecialTokens(w)[0]).Distinct().Count());
    }

    [Fact]
    public void CaptionsFitTheLengthWithTheirSpecialTokens()
    {
        Assert.Equal(ShapesTokenizer.DefaultMaxLength, _tokenizer.ModelMaxLength);
        var longest = Captions.Describe(new Appearance("triangle", "orange", "checkered"), MotionLibrary.Get("counterclockwise"));
        var ids = _tokenizer.Encode(longest);
        Assert.Equal(longest.Split(' ').Length + 2, ids.Length);
        Assert.True(ids.Length <= ShapesTokenizer.DefaultMaxLength);
        Assert.Equal(_tokenizer.BosId, ids[0]);
        Assert.Equal(_tokenizer.EosId, ids[^1]);
        using var batch = _tokenizer.Encode(["", longest]);
        Assert.Equal(new long[] { 2, ShapesTokenizer.DefaultMaxLength }, batch.InputIds.shape);
        Assert.Equal(_tokenizer.EosId, _tokenizer.PadId);
    }

    [Fact]
    public void OtherTextStillTokenizesToKnownSymbols()
    {
        var ids = _tokenizer.EncodeWithoutSpecialTokens("Hello, wörld! 42 ≠ x");
        Assert.NotEmpty(ids);
        Assert.DoesNotContain(_tokenizer.EosId, ids); // the unknown token: every byte has a symbol
        Assert.All(ids, id => Assert.InRange(id, 0, _tokenizer.VocabSize - 1));
    }

    [Fact]
    public void BaseSymbolsAreClipsInClipsOrder()
    {
        // The first 512 ids of a real CLIP vocabulary (the tokenizer_clip fixture) are the byte symbols, then the same with </w>.
        var clip = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(Fixtures.Root, "tokenizer_clip", "vocab.json")))!;
        var ours = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(_dir, "vocab.json")))!;
        var clipBase = clip.Where(p => p.Value < 512).OrderBy(p => p.Value).Select(p => p.Key);
        var ourBase = ours.Where(p => p.Value < 512).OrderBy(p => p.Value).Select(p => p.Key);
        Assert.Equal(clipBase, ourBase);
        Assert.StartsWith("#version: 0.2\n", File.ReadAllText(Path.Combine(_dir, "merges.txt")));
        Assert.Equal(ours.Count - 2, ours[ShapesTokenizer.StartOfText]);
        Assert.Equal(ours.Count - 1, ours[ShapesTokenizer.EndOfText]);
    }
}
