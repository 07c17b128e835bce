using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Models.Transformers;

public sealed class LatteTransformer3DTests(ITestOutputHelper output)
{
    // Latte-1's transformer/config.json (maxin0chen/Latte-1), reconstructed from its published values.
    private static readonly string Latte1Config = MotionTune.Presets.ModelPresets.PathOf(MotionTune.Presets.ModelPresets.Latte1Transformer);
    private const string Latte1Snapshot = "tests/MotionTune.Tests/Models/Snapshots/latte1_transformer.txt";

    /// <summary>The transformer of Latte-1 (1.06 B parameters, as published).</summary>
    private const long Latte1Parameters = 1_057_246_880;

    private static readonly LatteTransformer3DConfig Tiny = new()
    {
        NumAttentionHeads = 2, AttentionHeadDim = 8, InChannels = 4, OutChannels = 8, NumLayers = 2,
        CrossAttentionDim = 16, AttentionBias = true, SampleSize = 8, PatchSize = 2, ActivationFn = "gelu-approximate",
        NumEmbedsAdaNorm = 1000, NormType = "ada_norm_single", NormElementwiseAffine = false, NormEps = 1e-6,
        CaptionChannels = 12, VideoLength = 3,
    };

    static LatteTransformer3DTests() => TorchRuntime.Initialize();

    private static LatteTransformer3DModel TinyModel(int seed = 0)
    {
        manual_seed(seed);
        return new LatteTransformer3DModel(Tiny);
    }

    [Fact]
    public void Latte1ConfigBuildsOnMetaWithTheSnapshotShapesAndPublishedParameterCount()
    {
        var warnings = new List<string>();
        var config = ConfigFile.Load<LatteTransformer3DConfig>(Latte1Config, warnings.Add);
        Assert.Empty(warnings);
        Assert.Equal((28, 16, 72, 1152L, 4096), (config.NumLayers, config.NumAttentionHeads, config.AttentionHeadDim, config.InnerDim, config.CaptionChannels!.Value));

        LatteTransformer3DModel model;
        using (ParameterFactory.Scope(META))
            model = new LatteTransformer3DModel(config);
        Assert.All(model.parameters(), p => Assert.True(p.is_meta));
        ShapeSnapshot.AssertMatches(model, Latte1Snapshot);

        long count = model.parameters().Sum(p => p.numel());
        output.WriteLine($"Latte-1 transformer: {count:N0} parameters");
        Assert.Equal(Latte1Parameters, count);
    }

    [Fact]
    public void OutputHasOutChannelsAndTheInputGrid()
    {
        using var model = TinyModel();
        using var _ = no_grad();
        var y = model.forward(randn([2, 4, 3, 8, 6]), tensor(new long[] { 10, 900 }), randn(2, 5, 12));
        Assert.Equal(new long[] { 2, 8, 3, 8, 6 }, y.shape);
        Assert.True(y.is_contiguous());

        var image = model.forward(randn([1, 4, 1, 8, 8]), tensor(500L), randn(1, 5, 12)); // one frame: no frame positions
        Assert.Equal(new long[] { 1, 8, 1, 8, 8 }, image.shape);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var model = TinyModel();
        using var _ = no_grad();
        var text = randn(1, 5, 12);
        Assert.Contains("video_length = 3", Assert.Throws<ArgumentException>(() => model.forward(randn([1, 4, 4, 8, 8]), tensor(1L), text)).Message);
        Assert.Contains("(B, 4, F, H, W)", Assert.Throws<ArgumentException>(() => model.forward(randn([1, 3, 3, 8, 8]), tensor(1L), text)).Message);
        Assert.Contains("patch size 2", Assert.Throws<ArgumentException>(() => model.forward(randn([1, 4, 3, 7, 8]), tensor(1L), text)).Message);
        Assert.Contains("(1, L, 12)", Assert.Throws<ArgumentException>(() => model.forward(randn([1, 4, 3, 8, 8]), tensor(1L), randn(1, 5, 7))).Message);
        Assert.Contains("timestep", Assert.Throws<ArgumentException>(() => model.forward(randn([1, 4, 3, 8, 8]), tensor(new long[] { 1, 2 }), text)).Message);
        Assert.Contains("caption_channels", Assert.Throws<ArgumentException>(() => new LatteTransformer3DModel(Tiny with { CaptionChannels = null })).Message);
    }

    [Fact]
    public void TextMaskDiscardsTokensLikeTrimmingThem()
    {
        using var model = TinyModel(1);
        using var _ = no_grad();
        var x = randn([2, 4, 3, 8, 8]);
        var t = tensor(new long[] { 3, 700 });
        var text = randn(2, 5, 12);
        var keep = tensor(new[] { true, true, true, false, false, true, true, true, false, false }).view(2, 5);
        var masked = model.forward(x, t, text, keep);
        var trimmed = model.forward(x, t, text[.., ..3]);
        Assert.True(masked.allclose(trimmed, 1e-5, 1e-5), $"max diff {(masked - trimmed).abs().max().item<float>()}");
        var unmasked = model.forward(x, t, text);
        Assert.False(masked.allclose(unmasked, 1e-3, 1e-3));
    }

    [Fact]
    public void TemporalAttentionProjectionsAreTheTemporalBlocksLinears()
    {
        using var model = TinyModel();
        var projections = model.TemporalAttentionProjections().ToList();
        Assert.Equal(Tiny.NumLayers * 4, projections.Count);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, layer) in projections)
        {
            Assert.Matches(@"^temporal_transformer_blocks\.\d+\.attn1\.(to_q|to_k|to_v|to_out\.0)$", name);
            Assert.Same(layer.weight, parameters[$"{name}.weight"]);
        }
    }

    [Fact]
    public void LatteLoraPresetTargetsExactlyTheTemporalAttentionProjections()
    {
        using var model = TinyModel();
        var preset = LoraTargets.Preset(Architecture.Latte, "temporal-qkvo");
        var targeted = model.named_modules().Where(m => m.module is Linear && preset.Matches(m.name)).Select(m => m.name);
        Assert.Equal(model.TemporalAttentionProjections().Select(p => p.Name).Order(), targeted.Order());
    }

    [Fact]
    public void PatchEmbedEqualsStrideConvolutionAndSinCosGrid()
    {
        manual_seed(2);
        var embed = new PatchEmbed(8, 8, 2, 3, 12);
        var video = randn([2, 3, 4, 6, 10]); // (B, C, F, H, W), a non-square 3x5 grid
        using var _ = no_grad();
        var tokens = embed.forward(video);

        var frames = video.permute(0, 2, 1, 3, 4).reshape(8, 3, 6, 10);
        var conv = F.conv2d(frames, embed.proj.weight, embed.proj.bias, strides: [2, 2]).flatten(2).transpose(1, 2);
        var positions = tokens - conv;
        Assert.True(positions.allclose(positions[0].expand_as(positions), 1e-5, 1e-5), "positions differ between frames");

        // base size 8/2 = 4 over a 3x5 grid: row coordinate i·4/3, column j·4/5; the first half encodes the column.
        var token = positions[0, 1 * 5 + 2].data<float>().ToArray(); // row 1, column 2
        double column = 2 * 4.0 / 5, row = 1 * 4.0 / 3;
        Assert.Equal(Math.Sin(column), token[0], 4);
        Assert.Equal(Math.Cos(column), token[3], 4);
        Assert.Equal(Math.Sin(row), token[6], 4);
        Assert.Equal(Math.Cos(row * Math.Pow(10000, -1.0 / 3)), token[10], 4);
    }

    [Fact]
    public void GradientCheckpointingGivesTheSameLossAndGradients()
    {
        using var model = TinyModel(3);
        var x = randn([1, 4, 3, 8, 8]);
        var t = tensor(new long[] { 250 });
        var text = randn(1, 5, 12);

        (double Loss, Dictionary<string, Tensor> Grads) Step(bool checkpointing)
        {
            model.GradientCheckpointing = checkpointing;
            model.zero_grad();
            var loss = model.forward(x, t, text).square().mean();
            loss.backward();
            var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            return (loss.item<float>(), grads);
        }

        var plain = Step(false);
        var checkpointed = Step(true);
        Assert.Equal(plain.Loss, checkpointed.Loss, 6);
        Assert.Equal(plain.Grads.Keys.Order(), checkpointed.Grads.Keys.Order());
        foreach (var (name, g) in plain.Grads)
        {
            Assert.True(g.abs().sum().item<float>() > 0, $"{name} got no gradient");
            Assert.True(g.allclose(checkpointed.Grads[name], 1e-5, 1e-6), $"gradient of {name} differs under checkpointing");
        }
    }

    [Fact]
    public void FromPretrainedRejectsAMismatchedCheckpoint()
    {
        var dir = Directory.CreateTempSubdirectory("latte-").FullName;
        try
        {
            using (var model = TinyModel())
            {
                ConfigFile.Save(Tiny with { NumLayers = 3 }, Path.Combine(dir, "config.json"), "LatteTransformer3DModel");
                var tensors = model.state_dict();
                SafeTensors.Save(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), tensors);
            }
            var error = Assert.Throws<CheckpointMismatchException>(() => LatteTransformer3DModel.FromPretrained(dir));
            Assert.Contains("transformer_blocks.2", error.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
