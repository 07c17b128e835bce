using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.Unets;
using MotionTune.Presets;
using MotionTune.Runtime;
using MotionTune.Tests.Parity;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.Unets;

public sealed class UNet3DConditionModelTests(ITestOutputHelper output)
{
    private static readonly string ModelScopeConfig = ModelPresets.PathOf(ModelPresets.ModelScopeUNet);
    private const string ModelScopeSnapshot = "tests/MotionTune.Tests/Models/Snapshots/modelscope_unet3d.txt";

    /// <summary>Parameters of damo-vilab/text-to-video-ms-1.7b's UNet (its 1.41 B).</summary>
    private const long ModelScopeParameters = 1_411_233_860;

    /// <summary>Two resolutions, one layer each, every block type, tiny widths: fast on the CPU.</summary>
    private static readonly UNet3DConditionConfig Tiny = new()
    {
        BlockOutChannels = [8, 16],
        DownBlockTypes = ["CrossAttnDownBlock3D", "DownBlock3D"],
        UpBlockTypes = ["UpBlock3D", "CrossAttnUpBlock3D"],
        LayersPerBlock = 1,
        AttentionHeadDim = [4],
        NormNumGroups = 4,
        CrossAttentionDim = 8,
    };

    static UNet3DConditionModelTests() => TorchRuntime.Initialize();

    /// <summary>A tiny model with every parameter perturbed, so zero-initialised layers (conv4 of the temporal convolutions) matter.</summary>
    internal static UNet3DConditionModel TinyModel(UNet3DConditionConfig? config = null)
    {
        manual_seed(7);
        var model = new UNet3DConditionModel(config ?? Tiny);
        using var _ = no_grad();
        foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05);
        return model;
    }

    [Fact]
    public void ModelScopeUNetBuildsWithTheCheckpointsNamesAndShapes()
    {
        var warnings = new List<string>();
        var config = ConfigFile.Load<UNet3DConditionConfig>(ModelScopeConfig, warnings.Add);
        Assert.Empty(warnings);
        Assert.Equal([64], config.AttentionHeadDim);

        UNet3DConditionModel model;
        using (ParameterFactory.Scope(META))
            model = new UNet3DConditionModel(config);
        ShapeSnapshot.AssertMatches(model, ModelScopeSnapshot);

        long count = model.parameters().Sum(p => p.numel());
        output.WriteLine($"ModelScope UNet3DConditionModel: {count:N0} parameters");
        Assert.Equal(ModelScopeParameters, count);
        // 12 temporal transformers (transformer_in, 2×3 down, 1 mid, 3×3 up... minus the attention-free blocks) × 2 attentions × 4 projections.
        Assert.Equal(1 + 3 * 2 + 1 + 3 * 3, model.TemporalAttentionProjections().Count() / 8);
    }

    [Fact]
    public void ModelScopeUNetMapsALatentVideoToItsShapeOnTheMetaDevice()
    {
        var config = ConfigFile.Load<UNet3DConditionConfig>(ModelScopeConfig);
        UNet3DConditionModel model;
        using (ParameterFactory.Scope(META))
            model = new UNet3DConditionModel(config);
        // The benchmark shape: CFG batch 2, 16 frames of 32x32 latents (256x256 pixels), 77 text tokens.
        var sample = empty([2, 4, 16, 32, 32], device: META);
        var text = empty([2, 77, 1024], device: META);
        Tensor? result = null;
        long flops = FlopCounter.Measure(() => result = model.forward(sample, tensor(new[] { 500L, 500L }, device: META), text));
        Assert.Equal([2, 4, 16, 32, 32], result!.shape);
        output.WriteLine($"one UNet forward at 2x4x16x32x32: {flops / 1e12:F2} TFLOP (matmul/conv/attention only)");
        Assert.True(flops > 0);
    }

    [Fact]
    public void TheChannelsLastPathGivesTheSameOutput()
    {
        using var fixture = Fixtures.Open("unet3d");
        using var _ = no_grad();
        var sample = fixture.Io("sample");
        var text = fixture.Io("encoder_hidden_states");
        var timesteps = fixture.Io("timestep");
        var model = UNet3DConditionModel.FromPretrained(fixture.Dir);
        var reference = model.forward(sample, timesteps, text);
        model.ChannelsLastOnCpu = true;
        var channelsLast = model.forward(sample, timesteps, text);
        // The weights were re-laid out in place, the activations travelled channels-last (the output is a view of
        // channels-last frames), and the output is the same up to float32 summation order.
        Assert.True(ChannelsLast.Is(model.conv_in.weight));
        Assert.True(ChannelsLast.Is(channelsLast.permute(0, 2, 1, 3, 4).reshape(-1, channelsLast.shape[1], channelsLast.shape[3], channelsLast.shape[4])));
        double error = ParityAssert.MaxAbsError(channelsLast, reference);
        output.WriteLine($"channels-last vs default layout on the unet3d fixture: max abs difference {error:E2}");
        Assert.True(error < 1e-4, $"channels-last differs by {error}");
        // Training keeps default-layout activations beside the re-laid-out weights: the same output again.
        using (enable_grad())
        {
            double mixed = ParityAssert.MaxAbsError(model.forward(sample, timesteps, text).detach(), reference);
            Assert.True(mixed < 1e-4, $"channels-last weights with default-layout activations differ by {mixed}");
        }
    }

    [Fact]
    public void Bfloat16WeightsTakeFloat32InputsAndStayCloseToFloat32()
    {
        using var fixture = Fixtures.Open("unet3d");
        using var _ = no_grad();
        var sample = fixture.Io("sample");
        var text = fixture.Io("encoder_hidden_states");
        var timesteps = fixture.Io("timestep");
        var reference = UNet3DConditionModel.FromPretrained(fixture.Dir).forward(sample, timesteps, text);
        var bf16 = UNet3DConditionModel.FromPretrained(fixture.Dir, dtype: ScalarType.BFloat16).forward(sample, timesteps, text);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        // bf16 keeps about 3 significant digits: compare relative to the output's magnitude.
        double error = ParityAssert.MaxAbsError(bf16, reference) / reference.abs().max().item<float>();
        output.WriteLine($"bf16 vs fp32 on the unet3d fixture: max abs difference {error:E2} of the largest output");
        Assert.True(error < 0.05, $"bf16 differs from fp32 by {error} of the largest output");
    }

    [Fact]
    public void TemporalAttentionProjectionsAreTheLinearsOfEveryTemporalTransformer()
    {
        var model = TinyModel();
        var projections = model.TemporalAttentionProjections().ToList();
        // transformer_in, the down block's and the mid block's temporal transformers, and the up block's two.
        Assert.Equal((1 + 1 + 1 + 2) * 8, projections.Count);
        var parameterNames = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var (name, layer) in projections)
        {
            Assert.Matches(@"^(transformer_in|(down|up)_blocks\.\d+\.temp_attentions\.\d+|mid_block\.temp_attentions\.\d+)\.transformer_blocks\.0\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$", name);
            Assert.Contains($"{name}.weight", parameterNames);
            Assert.Same(layer.weight, model.named_parameters().First(p => p.name == $"{name}.weight").parameter);
        }
    }

    [Fact]
    public void OddLatentSizesComeBackAtTheirSize()
    {
        var model = TinyModel();
        using var _ = no_grad();
        var sample = randn([1, 4, 2, 7, 10]);
        var result = model.forward(sample, 250.0, randn([1, 3, 8]));
        Assert.Equal([1, 4, 2, 7, 10], result.shape);
    }

    [Fact]
    public void AttentionHeadDimMayBeAList()
    {
        var config = ConfigFile.Parse<UNet3DConditionConfig>("""{"attention_head_dim": [4, 8], "block_out_channels": [8, 16]}""");
        Assert.Equal([4, 8], config.AttentionHeadDim);
        var model = new UNet3DConditionModel(Tiny with { AttentionHeadDim = [4, 8] });
        var down0 = (CrossAttnDownBlock3D)model.down_blocks[0];
        var up1 = (CrossAttnUpBlock3D)model.up_blocks[1];
        Assert.Equal(2, down0.attentions[0].transformer_blocks[0].attn1.Heads); // 8 channels / 4
        Assert.Equal(4, up1.temp_attentions[0].transformer_blocks[0].attn1.DimHead);
        var json = System.Text.Json.JsonSerializer.Serialize(config, ConfigFile.JsonOptions);
        Assert.Contains("\"attention_head_dim\": [", json);
        Assert.Contains("\"attention_head_dim\": 64", System.Text.Json.JsonSerializer.Serialize(new UNet3DConditionConfig(), ConfigFile.JsonOptions));
    }

    [Fact]
    public void EveryKeyOfTheDiffusersConfigIsKnown()
    {
        using var fixture = Fixtures.Open("unet3d");
        var warnings = new List<string>();
        var config = ConfigFile.Load<UNet3DConditionConfig>(fixture.PathOf("config.json"), warnings.Add);
        Assert.Empty(warnings);
        Assert.Equal([8], config.AttentionHeadDim);
        Assert.Null(config.NumAttentionHeads);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var model = TinyModel();
        using var _ = no_grad();
        var e = Assert.Throws<ArgumentException>(() => model.forward(randn([1, 3, 2, 8, 8]), 1.0, randn([1, 3, 8])));
        Assert.Contains("[1, 3, 2, 8, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.forward(randn([2, 4, 2, 8, 8]), 1.0, randn([2, 3, 7])));
        Assert.Contains("encoder_hidden_states", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.forward(randn([2, 4, 2, 8, 8]), tensor(new[] { 1L, 2L, 3L }), randn([2, 3, 8])));
        Assert.Contains("3 timesteps", e.Message);
        e = Assert.Throws<ArgumentException>(() => new UNet3DConditionModel(Tiny with { UpBlockTypes = ["UpBlock3D", "Nope"] }));
        Assert.Contains("'Nope'", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => UNet3DConditionModel.FromPretrained("/nonexistent/unet"));
    }
}

/// <summary>Dropout masks are replayed through the global generator, so this runs alone.</summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class UNet3DGradientCheckpointingTests(ITestOutputHelper output)
{
    static UNet3DGradientCheckpointingTests() => TorchRuntime.Initialize();

    /// <summary>
    /// Full training, and temporal-LoRA-like training where only the temporal attention of the deeper blocks is
    /// trainable: then the first checkpointed layers get inputs that require no gradient, which must not cut the
    /// gradient of the trainable layers inside them.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientCheckpointingGivesTheSameLossAndGradients(bool onlyDeepTemporalAttentionTrains)
    {
        var model = UNet3DConditionModelTests.TinyModel();
        model.train(); // the temporal convolutions' dropout is active, so the recomputation must replay its masks
        if (onlyDeepTemporalAttentionTrains)
        {
            foreach (var p in model.parameters()) p.requires_grad_(false);
            foreach (var (name, layer) in model.TemporalAttentionProjections().Where(p => !p.Name.StartsWith("transformer_in")))
                layer.weight.requires_grad_(true);
        }
        manual_seed(3);
        var sample = randn([2, 4, 3, 8, 8]);
        var text = randn([2, 5, 8]);
        var timesteps = tensor(new[] { 10L, 700L });

        (float Loss, Dictionary<string, Tensor> Grads) LossAndGrads(bool checkpointing, long seed)
        {
            model.GradientCheckpointing = checkpointing;
            model.zero_grad();
            var input = onlyDeepTemporalAttentionTrains ? sample : sample.clone().requires_grad_();
            manual_seed(seed);
            var loss = model.forward(input, timesteps, text).square().mean();
            loss.backward();
            var grads = model.named_parameters().Where(p => p.parameter.requires_grad)
                .ToDictionary(p => p.name, p => p.parameter.grad?.clone() ?? throw new InvalidOperationException($"{p.name} got no gradient"));
            if (!onlyDeepTemporalAttentionTrains) grads["sample"] = input.grad!.clone();
            return (loss.item<float>(), grads);
        }

        var plain = LossAndGrads(checkpointing: false, seed: 11);
        var checkpointed = LossAndGrads(checkpointing: true, seed: 11);
        var otherMasks = LossAndGrads(checkpointing: false, seed: 12);

        Assert.NotEqual(plain.Loss, otherMasks.Loss); // dropout is really on
        Assert.Equal(plain.Loss, checkpointed.Loss, 6);
        Assert.Equal(plain.Grads.Keys.Order(), checkpointed.Grads.Keys.Order());
        Assert.Equal(onlyDeepTemporalAttentionTrains ? 4 * 8 : model.parameters().Count() + 1, plain.Grads.Count);
        double worst = 0;
        foreach (var (name, g) in plain.Grads)
        {
            Assert.True(g.abs().max().item<float>() > 0, $"gradient of {name} is zero");
            worst = Math.Max(worst, ParityAssert.MaxAbsError(checkpointed.Grads[name], g));
            Assert.True(checkpointed.Grads[name].allclose(g, 1e-4, 1e-6), $"gradient of {name} differs under checkpointing");
        }
        output.WriteLine($"loss {plain.Loss} vs {checkpointed.Loss}; worst gradient difference {worst:E2} over {plain.Grads.Count} tensors");
    }

    /// <summary>
    /// Temporal LoRA (with adapter dropout) on every temporal transformer but <c>transformer_in</c>, on a frozen base:
    /// the adapters' gradients are the same with and without checkpointing.
    /// </summary>
    [Fact]
    public void TemporalLoraGetsTheSameGradientsUnderCheckpointing()
    {
        var model = UNet3DConditionModelTests.TinyModel();
        model.train();
        foreach (var p in model.parameters()) p.requires_grad_(false);
        var targets = LoraTargets.Parse(Architecture.ModelScope, @".*\.temp_attentions\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)");
        using var lora = LoraNetwork.Attach(model, targets, new LoraSettings { Rank = 2, Dropout = 0.1 });
        using (no_grad())
            foreach (var p in lora.Parameters()) p.add_(randn_like(p) * 0.1); // B starts at zero, which would zero A's gradient
        manual_seed(4);
        var sample = randn([1, 4, 3, 8, 8]);
        var text = randn([1, 5, 8]);

        List<Tensor> Grads(bool checkpointing)
        {
            model.GradientCheckpointing = checkpointing;
            foreach (var p in lora.Parameters()) p.grad?.zero_();
            manual_seed(21);
            model.forward(sample, 300.0, text).square().mean().backward();
            return lora.Parameters().Select(p => p.grad?.clone() ?? throw new InvalidOperationException("an adapter got no gradient")).ToList();
        }

        var plain = Grads(false);
        var checkpointed = Grads(true);
        Assert.Equal(4 * 8 * 2, plain.Count);
        for (int i = 0; i < plain.Count; i++)
        {
            Assert.True(plain[i].abs().max().item<float>() > 0);
            Assert.True(checkpointed[i].allclose(plain[i], 1e-4, 1e-6), $"adapter tensor {i} differs under checkpointing");
        }
    }
}
