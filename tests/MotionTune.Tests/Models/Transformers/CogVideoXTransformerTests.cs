using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.Transformers;

public sealed class CogVideoXTransformerTests
{
    public CogVideoXTransformerTests() => TorchRuntime.Initialize();

    private static CogVideoXTransformer3DConfig Tiny(bool rotary) => new()
    {
        NumAttentionHeads = 2, AttentionHeadDim = 16, InChannels = 4, OutChannels = 4, TimeEmbedDim = 8, TextEmbedDim = 12,
        NumLayers = 2, SampleWidth = 6, SampleHeight = 4, SampleFrames = 5, MaxTextSeqLength = 3,
        UseRotaryPositionalEmbeddings = rotary,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientCheckpointingGivesTheSameGradients(bool rotary)
    {
        manual_seed(0);
        var config = Tiny(rotary);
        using var model = new CogVideoXTransformer3DModel(config);
        var latents = randn([2, 2, 4, 4, 6]);
        var text = randn(2, 3, 12);
        var timestep = tensor(new long[] { 10, 900 });
        (Tensor, Tensor)? tables = rotary ? CogVideoXPositions.RotaryForPipeline(config, 32, 48, 2) : null;

        Dictionary<string, Tensor> Grads(bool checkpointing)
        {
            model.zero_grad();
            model.GradientCheckpointing = checkpointing;
            var x = latents.clone().requires_grad_();
            var y = model.forward(x, text, timestep, tables);
            (y * y).sum().backward();
            var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            grads["input"] = x.grad!.clone();
            return grads;
        }

        var plain = Grads(false);
        var checkpointed = Grads(true);
        Assert.Equal(plain.Keys.Order(), checkpointed.Keys.Order());
        foreach (var (name, g) in plain)
            Assert.True(g.allclose(checkpointed[name], 1e-5, 1e-6), $"gradient of {name} differs under checkpointing");
        Assert.True(plain["transformer_blocks.0.attn1.to_q.weight"].abs().sum().item<float>() > 0, "no gradient reached the first block");
    }

    [Fact]
    public void SinCosPositionsFollowTheFormulaOnANonSquareGrid()
    {
        const int dim = 32, rows = 2, columns = 3, frames = 2;
        const double spatialScale = 1.875;
        var table = CogVideoXPositions.SinCos3D(dim, rows, columns, frames, spatialScale, 1.0);
        Assert.Equal([frames * rows * columns, dim], table.shape);
        var values = table.data<float>().ToArray();

        // [frame: 8 | column: 12 | row: 12], each block [sin(p·ω_k), cos(p·ω_k)] with ω_k = 10000^(−k / (block/2)).
        static IEnumerable<double> Block(int width, double position) =>
            Enumerable.Range(0, width / 2).Select(k => Math.Sin(position / Math.Pow(10000, k / (width / 2.0))))
                .Concat(Enumerable.Range(0, width / 2).Select(k => Math.Cos(position / Math.Pow(10000, k / (width / 2.0)))));
        for (int t = 0; t < frames; t++)
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
        {
            var expected = Block(8, t).Concat(Block(12, c / spatialScale)).Concat(Block(12, r / spatialScale)).ToArray();
            int token = (t * rows + r) * columns + c;
            for (int i = 0; i < dim; i++)
                Assert.True(Math.Abs(values[token * dim + i] - expected[i]) < 1e-6, $"token (t{t}, r{r}, c{c}) channel {i}");
        }
    }

    [Fact]
    public void RotaryTablesFollowTheFormulaAtFullResolution()
    {
        // CogVideoX-5b at 480 x 720: a 30 x 45 patch grid that fills the training grid, 13 latent frames.
        var config = new CogVideoXTransformer3DConfig { NumAttentionHeads = 48, UseRotaryPositionalEmbeddings = true };
        var (cos, sin) = CogVideoXPositions.RotaryForPipeline(config, 480, 720, 13);
        Assert.Equal([13 * 30 * 45, 64], cos.shape);
        Assert.Equal(ScalarType.Float32, cos.dtype);

        // Channels: frame 16, row 24, column 24; each frequency ω_k = 10000^(−2k / block) is used by a pair of channels.
        static double Angle(int channel, int t, int r, int c)
        {
            var (position, width, offset) = channel < 16 ? (t, 16, 0) : channel < 40 ? (r, 24, 16) : (c, 24, 40);
            int k = (channel - offset) / 2;
            return position / Math.Pow(10000, 2.0 * k / width);
        }
        var cosValues = cos.data<float>().ToArray();
        var sinValues = sin.data<float>().ToArray();
        foreach (var (t, r, c) in new[] { (0, 0, 0), (12, 29, 44), (5, 7, 31), (1, 29, 0) })
        {
            int token = (t * 30 + r) * 45 + c;
            for (int channel = 0; channel < 64; channel++)
            {
                double angle = Angle(channel, t, r, c);
                Assert.True(Math.Abs(cosValues[token * 64 + channel] - Math.Cos(angle)) < 1e-4, $"cos at (t{t}, r{r}, c{c}) channel {channel}");
                Assert.True(Math.Abs(sinValues[token * 64 + channel] - Math.Sin(angle)) < 1e-4, $"sin at (t{t}, r{r}, c{c}) channel {channel}");
            }
        }
    }

    [Fact]
    public void CropRegionRoundsHalfToEvenLikePython()
    {
        // 30 x 30 grid in the 30 x 45 training grid: left = round(7.5) = 8.
        Assert.Equal(((0, 8), (30, 38)), CogVideoXPositions.ResizeCropRegionForGrid((30, 30), 45, 30));
        // 30 x 32: left = round(6.5) = 6 (half to even), not 7.
        Assert.Equal(((0, 6), (30, 38)), CogVideoXPositions.ResizeCropRegionForGrid((30, 32), 45, 30));
        // Taller than the target: the height fills it and the width shrinks.
        Assert.Equal(((0, 15), (30, 30)), CogVideoXPositions.ResizeCropRegionForGrid((60, 30), 45, 30));
        // The training grid itself.
        Assert.Equal(((0, 0), (30, 45)), CogVideoXPositions.ResizeCropRegionForGrid((30, 45), 45, 30));
    }

    [Fact]
    public void RotaryRotatesOnlyTheVideoTokensAsDiffusersDoes()
    {
        manual_seed(3);
        const int text = 3, video = 5, heads = 2, d = 8;
        var q = randn(2, text + video, heads, d);
        var cos = randn(video, d);
        var sin = randn(video, d);
        var rotary = CogVideoXRotary.Prepare(cos, sin, text, CPU);
        var ours = rotary.Apply(q);

        // diffusers' apply_rotary_emb (use_real_unbind_dim -1) on the video part of (B, heads, S, d) queries.
        var x = q.transpose(1, 2)[.., .., text..];
        var pairs = x.reshape(2, heads, video, d / 2, 2).unbind(-1);
        var rotated = stack([-pairs[1], pairs[0]], -1).flatten(3);
        var expectedVideo = x * cos + rotated * sin;
        var expected = cat([q.transpose(1, 2)[.., .., ..text], expectedVideo], 2).transpose(1, 2);
        Assert.True(ours.allclose(expected, 0, 1e-6), "rotary application differs from diffusers' formula");
        Assert.True(ours[.., ..text].SameAs(q[.., ..text]), "text tokens must pass unchanged");
    }

    [Fact]
    public void RunsAtOtherResolutionsAndFrameCounts()
    {
        manual_seed(1);
        var config = Tiny(rotary: false);
        using var model = new CogVideoXTransformer3DModel(config);
        using var noGrad = no_grad();
        // 3 latent frames of 6 x 8 (training: 2 frames of 4 x 6): sin-cos positions are recomputed for the grid.
        var output = model.forward(randn([1, 3, 4, 6, 8]), randn(1, 5, 12), tensor(7L));
        Assert.Equal([1, 3, 4, 6, 8], output.shape);
        Assert.False(output.isnan().any().item<bool>());
    }

    [Fact]
    public void LearnedPositionsAreACheckpointTensorStartingFromSinCos()
    {
        // CogVideoX-5b-I2V style: rotary attention plus a learned table over [text, video] tokens.
        var config = Tiny(rotary: true) with { UseLearnedPositionalEmbeddings = true };
        using var model = new CogVideoXTransformer3DModel(config);
        var table = model.state_dict()["patch_embed.pos_embedding"];
        Assert.Equal([1, 3 + 2 * 2 * 3, 32], table.shape);
        var sinCos = CogVideoXPositions.SinCos3D(32, 2, 3, 2, config.SpatialInterpolationScale, config.TemporalInterpolationScale);
        Assert.True(table[0, 3..].allclose(sinCos.to(ScalarType.Float32), 1e-6, 1e-7));
        Assert.True(table[0, ..3].abs().max().item<float>() == 0, "text rows start at zero");
        using var noGrad = no_grad();
        var output = model.forward(randn([1, 2, 4, 4, 6]), randn(1, 3, 12), tensor(3L), CogVideoXPositions.RotaryForPipeline(config, 32, 48, 2));
        Assert.Equal([1, 2, 4, 4, 6], output.shape);
    }

    [Fact]
    public void RejectsBadInputsWithClearErrors()
    {
        using var model = new CogVideoXTransformer3DModel(Tiny(rotary: true));
        using var noGrad = no_grad();
        var text = randn(1, 3, 12);
        var wrongChannels = Assert.Throws<ArgumentException>(() => model.forward(randn([1, 2, 3, 4, 6]), text, tensor(1L)));
        Assert.Contains("hidden_states", wrongChannels.Message);
        var noRotary = Assert.Throws<ArgumentException>(() => model.forward(randn([1, 2, 4, 4, 6]), text, tensor(1L)));
        Assert.Contains("rotary", noRotary.Message);
        var wrongTables = Assert.Throws<ArgumentException>(() =>
            model.forward(randn([1, 2, 4, 4, 6]), text, tensor(1L), (ones(5, 16), zeros(5, 16))));
        Assert.Contains("rotary tables", wrongTables.Message);
        Assert.Throws<NotSupportedException>(() => new CogVideoXTransformer3DModel(Tiny(false) with { PatchSizeT = 2 }));
    }

    [Fact]
    public void EnumeratesTheAttentionProjectionsByStateDictName()
    {
        using var model = new CogVideoXTransformer3DModel(Tiny(rotary: false));
        var projections = model.AttentionProjections().ToList();
        Assert.Equal(2 * 4, projections.Count);
        using (no_grad())
            foreach (var (name, layer) in projections)
            {
                layer.weight.fill_(42);
                Assert.Equal(42f, model.state_dict()[name + ".weight"][0, 0].item<float>());
            }
        Assert.Equal("transformer_blocks.1.attn1.to_out.0", projections[^1].Name);

        // They are exactly what the paper's LoRA preset targets in CogVideoX.
        var preset = LoraTargets.Preset(Architecture.CogVideoX, "temporal-qkvo");
        var targeted = model.named_modules().Where(m => m.module is Linear && preset.Matches(m.name)).Select(m => m.name);
        Assert.Equal(projections.Select(p => p.Name).Order(), targeted.Order());
    }
}
