using System.Text.Json;
using System.Text.Json.Nodes;
using MotionTune.IO;
using MotionTune.Models.TextEncoders;
using MotionTune.Models.Vision;
using MotionTune.Runtime;
using MotionTune.Tests.Parity;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.TextEncoders;

/// <summary>Encoder behaviour the fixtures do not reach: masks, pooling rules, hidden states, half precision, checkpoint variants.</summary>
public sealed class EncoderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-enc-").FullName;
    private static string ClipDir => Path.Combine(Fixtures.Root, "clip_gelu");
    private static string T5Dir => Path.Combine(Fixtures.Root, "t5_encoder");

    public EncoderTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CLIPTextConfig TinyText(int eos = 999) => new()
    {
        VocabSize = 1000, HiddenSize = 32, IntermediateSize = 64, NumAttentionHeads = 4, NumHiddenLayers = 3, EosTokenId = eos,
    };

    [Fact]
    public void FixtureConfigsHaveNoUnknownKeys()
    {
        var warnings = new List<string>();
        var clip = ConfigFile.Load<CLIPConfig>(Path.Combine(ClipDir, "config.json"), warnings.Add);
        ConfigFile.Load<T5Config>(Path.Combine(T5Dir, "config.json"), warnings.Add);
        ConfigFile.Load<CLIPImageProcessorConfig>(Path.Combine(Fixtures.Root, "clip_image_processor", "preprocessor_config.json"), warnings.Add);
        Assert.Empty(warnings);
        Assert.Empty(clip.ResolvedTextConfig().UnknownKeys());
        Assert.Empty(clip.ResolvedVisionConfig().UnknownKeys());
        Assert.Equal(("gelu", 999, 48), (clip.TextConfig.HiddenAct, clip.TextConfig.EosTokenId, clip.VisionConfig.HiddenSize));
    }

    [Fact]
    public void LegacyConfigDictsReplaceTheSubConfigsWithDefaultsFilledIn()
    {
        var config = ConfigFile.Parse<CLIPConfig>("""
            {"text_config": {"hidden_size": 64, "num_hidden_layers": 2}, "text_config_dict": {"hidden_size": 768},
             "vision_config": {"patch_size": 14}}
            """);
        var text = config.ResolvedTextConfig();
        Assert.Equal((768, 12), (text.HiddenSize, text.NumHiddenLayers)); // as transformers: CLIPTextConfig(**dict)
        Assert.Equal(14, config.ResolvedVisionConfig().PatchSize);
    }

    [Fact]
    public void PoolingFollowsTransformersRule()
    {
        using var tower = new CLIPTextTransformer(TinyText(eos: 2));
        // OpenAI ids: every row's largest id is 49407, pooled at its (first) position whatever eos_token_id says.
        using var openai = tensor(new long[,] { { 49406, 320, 49407, 49407 }, { 49406, 49407, 0, 0 } });
        Assert.Equal([2L, 1L], tower.EndOfTextPositions(openai).to(ScalarType.Int64).data<long>().ToArray());
        // Otherwise the first eos_token_id (2 here), even with larger ids after it.
        using var other = tensor(new long[,] { { 0, 5, 2, 900, 2 }, { 0, 2, 7, 7, 7 } });
        Assert.Equal([2L, 1L], tower.EndOfTextPositions(other).to(ScalarType.Int64).data<long>().ToArray());
    }

    [Fact]
    public void HiddenStatesAndTheAttentionMask()
    {
        manual_seed(3);
        using var tower = new CLIPTextTransformer(TinyText());
        using var ids = tensor(new long[,] { { 998, 5, 6, 999, 999, 999 } });
        using var mask = tensor(new long[,] { { 1, 1, 1, 1, 0, 0 } });
        using var _ = no_grad();
        using var plain = tower.forward(ids, outputHiddenStates: true);
        Assert.Equal(4, plain.HiddenStates!.Count); // embeddings + 3 layers
        Assert.True(plain.HiddenStates[^2].SameAs(plain.PenultimateHiddenState));
        Assert.True(plain.PooledOutput.SameAs(plain.LastHiddenState[.., 3]));

        using var masked = tower.forward(ids, mask);
        // Causal attention already hides the padding from real tokens; only the padded positions change.
        Assert.True((masked.LastHiddenState[.., ..4] - plain.LastHiddenState[.., ..4]).abs().max().item<float>() < 1e-5);
        Assert.True((masked.LastHiddenState[.., 4..] - plain.LastHiddenState[.., 4..]).abs().max().item<float>() > 1e-3);
    }

    /// <summary>
    /// CLIPTextModelWithProjection and CLIPVisionModelWithProjection from checkpoints cut out of the CLIPModel fixture
    /// (with the stale position_ids buffers older transformers saved) give CLIPModel's features.
    /// </summary>
    [Fact]
    public void ProjectionModelsLoadTheirPartOfACLIPCheckpoint()
    {
        using var full = CLIPModel.FromPretrained(ClipDir);
        using var weights = SafeTensorsFile.Open(Path.Combine(ClipDir, "model.safetensors"));
        var configJson = JsonNode.Parse(File.ReadAllText(Path.Combine(ClipDir, "config.json")))!;
        foreach (var (tower, projection, configKey) in new[] { ("text_model.", "text_projection.weight", "text_config"), ("vision_model.", "visual_projection.weight", "vision_config") })
        {
            var folder = Directory.CreateDirectory(Path.Combine(_dir, tower.TrimEnd('.'))).FullName;
            var tensors = weights.Entries.Keys.Where(k => k.StartsWith(tower) || k == projection)
                .Select(k => KeyValuePair.Create(k, weights.Read(k))).ToList();
            tensors.Add(KeyValuePair.Create(tower + "embeddings.position_ids", arange(77L).unsqueeze(0)));
            SafeTensors.Save(Path.Combine(folder, "model.safetensors"), tensors);
            var sub = configJson[configKey]!.AsObject().DeepClone().AsObject();
            sub["projection_dim"] = configJson["projection_dim"]!.GetValue<int>();
            File.WriteAllText(Path.Combine(folder, "config.json"), sub.ToJsonString());
        }

        using var fixture = Fixtures.Open("clip_gelu");
        using var ids = fixture.Io("input_ids");
        using var pixels = fixture.Io("pixel_values");
        using var _ = no_grad();
        using var text = CLIPTextModelWithProjection.FromPretrained(Path.Combine(_dir, "text_model"));
        using var vision = CLIPVisionModelWithProjection.FromPretrained(Path.Combine(_dir, "vision_model"));
        using var textOut = text.forward(ids);
        using var visionOut = vision.forward(pixels);
        Assert.True(textOut.TextEmbeds!.SameAs(full.GetTextFeatures(ids)));
        Assert.True(visionOut.ImageEmbeds!.SameAs(full.GetImageFeatures(pixels)));
        // Loading is strict: a plain CLIPTextModel has no place for the projection.
        var e = Assert.Throws<CheckpointMismatchException>(() => CLIPTextModel.FromPretrained(Path.Combine(_dir, "text_model")));
        Assert.Equal(["text_projection.weight"], e.Unexpected);
    }

    [Fact]
    public void RelativePositionBucketsFollowT5Formula()
    {
        // Bidirectional, 32 buckets, max distance 128: 16 per direction, exact below 8, logarithmic to 15.
        using var buckets = T5Attention.RelativePositionBuckets(1, 256, 32, 128, CPU);
        long Bucket(int keyMinusQuery) => buckets[0, keyMinusQuery].item<long>();
        Assert.Equal(0, Bucket(0));
        Assert.Equal(16 + 3, Bucket(3));
        Assert.Equal(16 + 8 + (long)(Math.Log(10 / 8.0) / Math.Log(16) * 8), Bucket(10));
        Assert.Equal(16 + 15, Bucket(200)); // clamped
        using var backwards = T5Attention.RelativePositionBuckets(256, 1, 32, 128, CPU);
        Assert.Equal(5, backwards[5, 0].item<long>());
        Assert.Equal(8 + (long)(Math.Log(20 / 8.0) / Math.Log(16) * 8), backwards[20, 0].item<long>());
    }

    [Fact]
    public void T5InHalfPrecisionStaysFiniteAndClose()
    {
        using var fixture = Fixtures.Open("t5_encoder");
        using var ids = fixture.Io("input_ids");
        using var mask = fixture.Io("attention_mask");
        using var reference = fixture.Io("last_hidden_state");
        using var _ = no_grad();
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var model = T5EncoderModel.FromPretrained(T5Dir, dtype: dtype);
            var wo = ((T5LayerFF)model.encoder.block[0].layer[1]).DenseReluDense.wo.weight.dtype;
            Assert.Equal(dtype == ScalarType.Float16 ? ScalarType.Float32 : dtype, wo); // transformers keeps wo in fp32 for fp16
            using var output = model.forward(ids, mask).to(ScalarType.Float32);
            Assert.True(output.isfinite().all().item<bool>(), $"{dtype}: non-finite output");
            double error = ParityAssert.MaxAbsError(output, reference), scale = reference.abs().max().item<float>();
            Assert.True(error < 0.05 * scale, $"{dtype}: max abs error {error} against fp32 reference of scale {scale}");
        }
    }

    [Fact]
    public void T5AcceptsATiedEmbedTokensCopyBesideOrInsteadOfShared()
    {
        using var weights = SafeTensorsFile.Open(Path.Combine(T5Dir, "model.safetensors"));
        var all = weights.Entries.Keys.ToDictionary(k => k, weights.Read);
        using var fixture = Fixtures.Open("t5_encoder");
        using var ids = fixture.Io("input_ids");
        using var reference = T5EncoderModel.FromPretrained(T5Dir);
        using var _ = no_grad();
        using var expected = reference.forward(ids);
        foreach (var (name, keys) in new[]
        {
            ("both", all.Keys.Append("encoder.embed_tokens.weight")),
            ("embed_tokens_only", all.Keys.Where(k => k != "shared.weight").Append("encoder.embed_tokens.weight")),
        })
        {
            var folder = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
            File.Copy(Path.Combine(T5Dir, "config.json"), Path.Combine(folder, "config.json"));
            SafeTensors.Save(Path.Combine(folder, "model.safetensors"),
                keys.Select(k => KeyValuePair.Create(k, k == "encoder.embed_tokens.weight" ? all["shared.weight"] : all[k])));
            using var model = T5EncoderModel.FromPretrained(folder);
            Assert.True(model.forward(ids).SameAs(expected), name);
        }
    }

    [Fact]
    public void BadInputsAreReported()
    {
        using var tower = new CLIPTextTransformer(TinyText());
        Assert.Contains("positions", Assert.Throws<ArgumentException>(() => tower.forward(zeros(new long[] { 1, 78 }, ScalarType.Int64))).Message);
        Assert.Contains("activation", Assert.Throws<ArgumentException>(() => new CLIPTextTransformer(TinyText() with { HiddenAct = "swiglu" })).Message);
        using var t5 = new T5EncoderModel(new T5Config { VocabSize = 10, DModel = 8, DKv = 2, DFf = 16, NumLayers = 1, NumHeads = 4 });
        Assert.Contains("attention mask", Assert.Throws<ArgumentException>(() => t5.forward(zeros(new long[] { 1, 3 }, ScalarType.Int64), ones(1, 4))).Message);
        Assert.Throws<FileNotFoundException>(() => T5EncoderModel.FromPretrained(_dir));
    }
}
