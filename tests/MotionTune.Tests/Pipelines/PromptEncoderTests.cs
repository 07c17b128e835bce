using System.Text.Json.Nodes;
using MotionTune.Customization;
using MotionTune.Models.TextEncoders;
using MotionTune.Models.Transformers;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Tests.Customization;
using MotionTune.Tokenizers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Pipelines;

/// <summary>
/// The prompt encoders against direct tokenizer + text-encoder calls written the way each diffusers pipeline makes
/// them, on tiny folders assembled from the fixtures.
/// </summary>
public sealed class PromptEncoderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-prompt-").FullName;

    static PromptEncoderTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Sub(string name) => Path.Combine(_dir, name);

    [Fact]
    public void ModelScopeGivesClipsLastHiddenStatePaddedWithTheFoldersPadTokenAndNoMask()
    {
        var folder = TinyTextFolders.Pipeline(Sub("ms"), "CLIPTextModel");
        using var encoder = PromptEncoders.FromPipelineFolder(folder, Architecture.ModelScope);
        Assert.Equal(77, encoder.MaxLength);
        Assert.False(((PromptEncoder)encoder).EncoderSeesMask);

        string[] prompts = ["A red circle moving left", ""];
        var condition = encoder.Encode(prompts);
        using var hidden = condition.HiddenStates;
        Assert.Null(condition.AttentionMask);
        Assert.Equal([2L, 77, 32], hidden.shape);

        var tokenizer = TextTokenizer.FromFolder(Path.Combine(folder, "tokenizer"));
        using var batch = tokenizer.Encode(prompts, 77);
        Assert.Equal(0, batch.InputIds[1, 2].item<long>()); // "" = [bos, eos] then the folder's pad token "!" (id 0)
        using var model = CLIPTextModel.FromPretrained(Path.Combine(folder, "text_encoder"));
        using var expected = model.forward(batch.InputIds);
        Assert.True(hidden.SameAs(expected.LastHiddenState));

        // The negative side is the negative prompt encoded alike, one row per conditional row.
        var negative = encoder.EncodeNegative([""], condition);
        using var negativeHidden = negative.HiddenStates;
        Assert.Null(negative.AttentionMask);
        Assert.Equal([2L, 77, 32], negativeHidden.shape);
        Assert.True(negativeHidden[0].SameAs(expected.LastHiddenState[1]));
        Assert.True(negativeHidden[1].SameAs(expected.LastHiddenState[1]));
    }

    [Fact]
    public void TheClipEncoderSeesTheMaskOnlyWhenItsConfigSaysUseAttentionMask()
    {
        var tokenizerFolder = TinyTextFolders.ClipTokenizer(Sub("tok"));
        var masked = TinyTextFolders.ClipTextEncoder(Sub("masked"), useAttentionMask: true);
        var unmasked = TinyTextFolders.ClipTextEncoder(Sub("unmasked"), useAttentionMask: false);
        using var withMask = PromptEncoders.FromFolders(tokenizerFolder, masked, PromptEncodingRules.ModelScope);
        using var withoutMask = PromptEncoders.FromFolders(tokenizerFolder, unmasked, PromptEncodingRules.ModelScope);
        Assert.True(((PromptEncoder)withMask).EncoderSeesMask);
        Assert.False(((PromptEncoder)withoutMask).EncoderSeesMask);

        using var a = withMask.Encode(["a blue square"]).HiddenStates;
        using var b = withoutMask.Encode(["a blue square"]).HiddenStates;
        using var batch = TextTokenizer.FromFolder(tokenizerFolder).Encode(["a blue square"], 77);
        using var model = CLIPTextModel.FromPretrained(masked);
        using var expected = model.forward(batch.InputIds, batch.AttentionMask);
        Assert.True(a.SameAs(expected.LastHiddenState));
        // Causal attention: real tokens agree either way; padding positions differ.
        int real = batch.Ids[0].Length;
        Assert.True((a[.., ..real] - b[.., ..real]).abs().max().item<float>() < 1e-5);
        Assert.True((a[.., real..] - b[.., real..]).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void LatteLowercasesEncodesT5WithTheMaskAndGivesTheKeepMaskToTheTransformer()
    {
        var folder = TinyTextFolders.Pipeline(Sub("latte"), "T5EncoderModel", "LattePipeline");
        using var encoder = PromptEncoders.FromPipelineFolder(folder, Architecture.Latte);
        Assert.Equal(120, encoder.MaxLength);

        var condition = encoder.Encode(["  A Red Circle moving LEFT \n"]);
        using var hidden = condition.HiddenStates;
        using var keep = condition.AttentionMask!;
        var tokenizer = TextTokenizer.FromFolder(Path.Combine(folder, "tokenizer"));
        using var batch = tokenizer.Encode(["a red circle moving left"], 120);
        using var model = T5EncoderModel.FromPretrained(Path.Combine(folder, "text_encoder"));
        using var expected = model.forward(batch.InputIds, batch.AttentionMask);
        Assert.Equal([1L, 120, 32], hidden.shape);
        Assert.True(hidden.SameAs(expected));
        Assert.True(keep.SameAs(batch.AttentionMask));

        // The negative prompt is encoded with its own mask but keeps the conditional prompt's keep-mask (the pipeline
        // trims it to the conditional prompt's length).
        var negative = encoder.EncodeNegative([""], condition);
        using var negativeHidden = negative.HiddenStates;
        using var negativeKeep = negative.AttentionMask!;
        using var empty = tokenizer.Encode([""], 120);
        using var expectedNegative = model.forward(empty.InputIds, empty.AttentionMask);
        Assert.True(negativeHidden.SameAs(expectedNegative));
        Assert.True(negativeKeep.SameAs(batch.AttentionMask));
        Assert.False(negativeKeep.SameAs(empty.AttentionMask));

        Assert.Throws<ArgumentException>(() => encoder.EncodeNegative([""], new TextCondition(hidden)));
    }

    /// <summary>What the Latte encoder hands the transformer (all rows + keep-mask) equals what diffusers hands it (trimmed rows).</summary>
    [Fact]
    public void ForTheLatteTransformerTheKeepMaskEqualsTrimming()
    {
        var folder = TinyTextFolders.Pipeline(Sub("latte"), "T5EncoderModel", "LattePipeline");
        using var encoder = PromptEncoders.FromPipelineFolder(folder, Architecture.Latte);
        var condition = encoder.Encode(["a red circle moving left"]);
        var negative = encoder.EncodeNegative([""], condition);
        var both = TextCondition.Concat(negative, condition);
        long kept = condition.AttentionMask!.sum().item<long>();
        Assert.InRange(kept, 2, 119);

        manual_seed(5);
        using var model = new LatteTransformer3DModel(TinyLatte.Config with { CaptionChannels = 32 });
        using var sample = randn([2, 4, 3, 8, 8]);
        using var timestep = tensor(new long[] { 500, 500 });
        using var _ = no_grad();
        using var masked = model.forward(sample, timestep, both.HiddenStates, both.AttentionMask);
        using var trimmed = model.forward(sample, timestep, both.HiddenStates[.., ..(int)kept]);
        using var unmasked = model.forward(sample, timestep, both.HiddenStates);
        float gap = (masked - trimmed).abs().max().item<float>();
        output.WriteLine($"keep-mask vs trimmed rows ({kept} of 120 kept): max abs difference {gap:E2}");
        Assert.True(gap < 1e-5);
        Assert.True((masked - unmasked).abs().max().item<float>() > 1e-4); // the mask matters
        foreach (var t in new[] { condition.HiddenStates, condition.AttentionMask!, negative.HiddenStates, negative.AttentionMask!, both.HiddenStates, both.AttentionMask! })
            t.Dispose();
    }

    [Fact]
    public void CogVideoXEncodesT5WithoutTheMaskAndWithoutPreprocessing()
    {
        var folder = TinyTextFolders.Pipeline(Sub("cog"), "T5EncoderModel", "CogVideoXPipeline");
        using var encoder = PromptEncoders.FromPipelineFolder(folder, Architecture.CogVideoX);
        Assert.Equal(226, encoder.MaxLength);

        var condition = encoder.Encode(["A Red circle"]);
        using var hidden = condition.HiddenStates;
        Assert.Null(condition.AttentionMask);
        var tokenizer = TextTokenizer.FromFolder(Path.Combine(folder, "tokenizer"));
        using var batch = tokenizer.Encode(["A Red circle"], 226);
        using var model = T5EncoderModel.FromPretrained(Path.Combine(folder, "text_encoder"));
        using var expected = model.forward(batch.InputIds);
        using var withMask = model.forward(batch.InputIds, batch.AttentionMask);
        Assert.True(hidden.SameAs(expected));
        Assert.True((hidden - withMask).abs().max().item<float>() > 1e-4); // the padding took part

        using var lower = encoder.Encode(["a red circle"]).HiddenStates;
        Assert.False(lower.SameAs(hidden)); // case is kept
    }

    [Fact]
    public void ALatteArchitectureModelMayUseAClipTextEncoder()
    {
        var folder = TinyTextFolders.Pipeline(Sub("small"), "CLIPTextModel", "LattePipeline");
        using var encoder = PromptEncoders.FromPipelineFolder(folder, Architecture.Latte);
        Assert.Equal(77, encoder.MaxLength); // Latte's 120 capped at CLIP's positions
        Assert.True(((PromptEncoder)encoder).EncoderSeesMask);

        var condition = encoder.Encode([" A Blue Square  "]);
        using var hidden = condition.HiddenStates;
        using var keep = condition.AttentionMask!;
        using var batch = TextTokenizer.FromFolder(Path.Combine(folder, "tokenizer")).Encode(["a blue square"], 77);
        using var model = CLIPTextModel.FromPretrained(Path.Combine(folder, "text_encoder"));
        using var expected = model.forward(batch.InputIds, batch.AttentionMask);
        Assert.True(hidden.SameAs(expected.LastHiddenState));
        Assert.True(keep.SameAs(batch.AttentionMask));

        using var shorter = PromptEncoders.FromPipelineFolder(folder, Architecture.Latte, maxLength: 16);
        var cut = shorter.Encode(["a blue square bouncing " + string.Concat(Enumerable.Repeat("left and right ", 10))]);
        Assert.Equal([1L, 16, 32], cut.HiddenStates.shape);
        Assert.Equal(16, cut.AttentionMask!.sum().item<long>()); // truncated, end token kept in the 16
        cut.HiddenStates.Dispose();
        cut.AttentionMask.Dispose();
        Assert.Throws<ArgumentException>(() => PromptEncoders.FromPipelineFolder(folder, Architecture.Latte, maxLength: 100));
    }

    [Fact]
    public void BadFoldersAndPromptsAreReportedClearly()
    {
        var missing = Sub("nowhere");
        var e = Assert.Throws<FileNotFoundException>(() => PromptEncoders.FromPipelineFolder(missing, Architecture.Latte));
        Assert.Contains(missing, e.Message);

        var folder = TinyTextFolders.Pipeline(Sub("umt5"), "T5EncoderModel");
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "model_index.json")))!;
        index["text_encoder"] = new JsonArray("transformers", "UMT5EncoderModel");
        File.WriteAllText(Path.Combine(folder, "model_index.json"), index.ToJsonString());
        var unsupported = Assert.Throws<NotSupportedException>(() => PromptEncoders.FromPipelineFolder(folder, Architecture.CogVideoX));
        Assert.Contains("UMT5EncoderModel", unsupported.Message);

        var noEncoder = TinyTextFolders.Pipeline(Sub("noenc"), "T5EncoderModel");
        Directory.Delete(Path.Combine(noEncoder, "text_encoder"), recursive: true);
        Assert.Throws<DirectoryNotFoundException>(() => PromptEncoders.FromPipelineFolder(noEncoder, Architecture.Latte));

        using var encoder = PromptEncoders.FromPipelineFolder(TinyTextFolders.Pipeline(Sub("ok"), "CLIPTextModel"), Architecture.ModelScope);
        Assert.Throws<ArgumentException>(() => encoder.Encode([]));
        Assert.Throws<ArgumentException>(() => encoder.Encode([null!]));
        var condition = encoder.Encode(["a", "b"]);
        Assert.Throws<ArgumentException>(() => encoder.EncodeNegative(["x", "y", "z"], condition));
        condition.HiddenStates.Dispose();
    }
}
