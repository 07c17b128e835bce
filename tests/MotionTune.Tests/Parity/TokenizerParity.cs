using System.Text.Json;
using MotionTune.Tokenizers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>Shared checks of tokenizer fixtures: exact ids and masks, row by row.</summary>
internal static class TokenizerFixture
{
    public static string[] Texts(FixtureCase fixture) =>
        fixture.Case.GetProperty("texts").EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>Asserts that <paramref name="batch"/> equals the fixture's <c>{prefix}.input_ids</c> and mask exactly.</summary>
    public static void AssertExact(FixtureCase fixture, string prefix, TokenizedBatch batch, string[] texts, string what, ITestOutputHelper output)
    {
        using var expectedIds = fixture.Io($"{prefix}.input_ids");
        using var expectedMask = fixture.Io($"{prefix}.attention_mask");
        var problems = new List<string>();
        for (int row = 0; row < texts.Length; row++)
        {
            var want = expectedIds[row].data<long>().ToArray();
            var have = batch.InputIds[row].data<long>().ToArray();
            if (!want.SequenceEqual(have))
                problems.Add($"row {row} ({Short(texts[row])}): ids [{Show(have)}] != expected [{Show(want)}]");
            if (!expectedMask[row].data<long>().SequenceEqual(batch.AttentionMask[row].data<long>()))
                problems.Add($"row {row} ({Short(texts[row])}): attention mask differs");
        }
        Assert.True(expectedIds.shape.SequenceEqual(batch.InputIds.shape),
            $"{what}: shape [{string.Join(", ", batch.InputIds.shape)}] != expected [{string.Join(", ", expectedIds.shape)}]");
        Assert.True(problems.Count == 0, $"{what}:\n" + string.Join("\n", problems));
        output.WriteLine($"{fixture.Name} {prefix} via {what}: {texts.Length} rows x {batch.InputIds.shape[1]} ids and masks equal exactly");
    }

    private static string Show(long[] ids)
    {
        int end = ids.Length;
        while (end > 1 && ids[end - 1] == ids[end - 2]) end--; // trailing padding, once
        return string.Join(",", ids.Take(end)) + (end < ids.Length ? ",…" : "");
    }

    private static string Short(string text) => text.Length <= 24 ? $"'{text}'" : $"'{text[..24]}…'";
}

/// <summary>
/// <c>clip_tokenizer</c>: each pad variant's folder (its <c>tokenizer.json</c> and <c>tokenizer_config.json</c>, the
/// tokenizer that produced io.safetensors) must reproduce the ids and masks exactly. The case's <c>vocab.json</c> +
/// <c>merges.txt</c> with the variant's settings must too, whenever the variant's tokenizer.json holds that vocabulary.
/// </summary>
[ParityKind("clip_tokenizer")]
public sealed class ClipTokenizerParity : IParityCheck
{
    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        var texts = TokenizerFixture.Texts(fixture);
        int maxLength = fixture.Case.GetProperty("max_length").GetInt32();
        var vocabJson = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(fixture.PathOf("vocab.json")))!;
        foreach (var variant in new[] { "pad_eos", "pad_bang" })
        {
            var folder = fixture.PathOf(variant);
            using (var batch = ClipTokenizer.FromFolder(folder).Encode(texts, maxLength))
                TokenizerFixture.AssertExact(fixture, variant, batch, texts, $"{variant}/tokenizer.json", output);

            var fromFiles = ClipTokenizer.FromFolder(fixture.Dir, TokenizerSettings.Load(folder));
            using var filesBatch = fromFiles.Encode(texts, maxLength);
            int savedVocab = SavedVocabularySize(Path.Combine(folder, "tokenizer.json"));
            if (savedVocab >= vocabJson.Count)
                TokenizerFixture.AssertExact(fixture, variant, filesBatch, texts, "vocab.json + merges.txt", output);
            else
                output.WriteLine($"{fixture.Name} {variant}: NOT compared for vocab.json + merges.txt: io.safetensors came from a tokenizer " +
                    $"with {savedVocab} vocabulary entries, not the {vocabJson.Count} of vocab.json (transformers 5 ignores " +
                    "CLIPTokenizer(vocab_file=, merges_file=)); that path is cross-checked in Tokenizers/ClipTokenizerTests. " +
                    $"Our ids for text 0: [{string.Join(",", filesBatch.Ids[0])}]");
        }
    }

    private static int SavedVocabularySize(string tokenizerJson)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        return doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().Count();
    }
}

/// <summary>
/// <c>t5_tokenizer</c>: the saved <c>tokenizer.json</c> (the tokenizer that produced io.safetensors) must reproduce the
/// ids and masks at every max length exactly; <c>spiece.model</c> must too whenever the saved tokenizer holds its
/// vocabulary.
/// </summary>
[ParityKind("t5_tokenizer")]
public sealed class T5TokenizerParity : IParityCheck
{
    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        var texts = TokenizerFixture.Texts(fixture);
        var lengths = fixture.Case.GetProperty("max_lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var saved = fixture.PathOf("saved");
        var fromJson = T5Tokenizer.FromFolder(saved);
        var settings = TokenizerSettings.Load(saved);
        var fromModel = T5Tokenizer.FromFolder(fixture.Dir, settings);
        var model = SentencePieceModel.Load(fixture.PathOf("spiece.model"));
        var json = TokenizerJsonUnigram.Load(Path.Combine(saved, "tokenizer.json"));
        bool sameVocabulary = json.Model.VocabSize >= model.Pieces.Count
            && Enumerable.Range(0, model.Pieces.Count).All(i => json.Model.PieceOf(i).Piece == model.Pieces[i].Piece);

        foreach (int length in lengths)
        {
            using (var batch = fromJson.Encode(texts, length))
                TokenizerFixture.AssertExact(fixture, $"len{length}", batch, texts, "saved/tokenizer.json", output);
            using var modelBatch = fromModel.Encode(texts, length);
            if (sameVocabulary)
                TokenizerFixture.AssertExact(fixture, $"len{length}", modelBatch, texts, "spiece.model", output);
            else
                output.WriteLine($"{fixture.Name} len{length}: NOT compared for spiece.model: io.safetensors came from a tokenizer with " +
                    $"{json.Model.VocabSize} pieces, not the {model.Pieces.Count} of spiece.model (transformers 5 ignores " +
                    "T5Tokenizer(vocab_file=)); that path is cross-checked in Tokenizers/T5TokenizerTests. " +
                    $"Our ids for text 0: [{string.Join(",", modelBatch.Ids[0])}]");
        }
    }
}
