using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

/// <summary>
/// Video models run blocks on B·k rows (frames or patch positions of each sample) with one condition per sample;
/// passing the per-sample condition must equal repeating it k times (what diffusers does with repeat_interleave).
/// </summary>
public sealed class SharedConditionTests
{
    public SharedConditionTests() => TorchRuntime.Initialize();

    [Fact]
    public void AttentionWithPerSampleContextEqualsRepeatedContext()
    {
        manual_seed(3);
        var attention = new Attention(8, new AttentionOptions { Heads = 2, DimHead = 4, CrossAttentionDim = 6, Bias = true });
        long samples = 2, k = 3;
        var x = randn(samples * k, 5, 8);
        var context = randn(samples, 4, 6);
        var bias = zeros(samples, 1, 1, 4);
        bias[1, 0, 0, 3] = tensor(-10000f); // sample 1 ignores its last token

        using var _ = no_grad();
        var shared = attention.forward(x, context, bias);
        var repeated = attention.forward(x, context.repeat_interleave(k, 0), bias.repeat_interleave(k, 0));
        Assert.Equal(repeated.shape, shared.shape);
        Assert.True(shared.allclose(repeated, 1e-5, 1e-6), $"max diff {(shared - repeated).abs().max().item<float>()}");
    }

    [Fact]
    public void AttentionRejectsAContextThatCannotBeShared()
    {
        var attention = new Attention(8, new AttentionOptions { Heads = 2, DimHead = 4, CrossAttentionDim = 6 });
        var error = Assert.Throws<ArgumentException>(() => attention.forward(randn(5, 3, 8), randn(2, 4, 6), null));
        Assert.Contains("batch 2", error.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AdaNormSingleBlockWithPerSampleConditionsEqualsRepeatedConditions(bool crossAttention)
    {
        manual_seed(4);
        long dim = 16, samples = 2, k = 3;
        var block = new BasicTransformerBlock(dim, 2, 8, new TransformerBlockOptions
        {
            CrossAttentionDim = crossAttention ? dim : null,
            NormType = "ada_norm_single",
            ActivationFn = "gelu-approximate",
            AttentionBias = true,
            NormElementwiseAffine = false,
            NormEps = 1e-6,
        });
        var x = randn(samples * k, 5, dim);
        var modulation = randn(samples, 6 * dim);
        var text = crossAttention ? randn(samples, 4, dim) : null;

        using var _ = no_grad();
        var shared = block.forward(x, text, null, modulation);
        var repeated = block.forward(x, text?.repeat_interleave(k, 0), null, modulation.repeat_interleave(k, 0));
        Assert.True(shared.allclose(repeated, 1e-5, 1e-6), $"max diff {(shared - repeated).abs().max().item<float>()}");
    }

    [Fact]
    public void AdaNormSingleBlockWithoutCrossAttentionKeepsNorm2AsLatteTemporalBlocksDo()
    {
        // diffusers: no cross-attention + ada_norm_single still creates norm2 (it precedes the feed-forward), no norm3.
        var block = new BasicTransformerBlock(8, 2, 4, new TransformerBlockOptions { NormType = "ada_norm_single" });
        var names = block.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("norm2.weight", names);
        Assert.Contains("scale_shift_table", names);
        Assert.DoesNotContain(names, n => n.StartsWith("attn2.") || n.StartsWith("norm3."));
        Assert.Null(block.attn2);
    }

    [Fact]
    public void AdaNormSingleBlockFollowsThePixArtFormula()
    {
        // x += g_msa·attn1(norm1(x)(1+s_msa)+b_msa); x += attn2(x, text); x += g_mlp·ff(norm2(x)(1+s_mlp)+b_mlp)
        manual_seed(5);
        long dim = 8;
        var block = new BasicTransformerBlock(dim, 2, 4, new TransformerBlockOptions
        {
            CrossAttentionDim = 6, NormType = "ada_norm_single", ActivationFn = "gelu-approximate",
        });
        var x = randn(2, 3, dim);
        var text = randn(2, 4, 6);
        var t = randn(2, 6 * dim);

        using var _ = no_grad();
        var m = (block.scale_shift_table!.unsqueeze(0) + t.view(2, 6, dim)).chunk(6, 1);
        var expected = x + m[2] * block.attn1.forward(block.norm1.forward(x) * (1 + m[1]) + m[0]);
        expected = expected + block.attn2!.forward(expected, text, null);
        expected = expected + m[5] * block.ff.forward(block.norm2!.forward(expected) * (1 + m[4]) + m[3]);
        var actual = block.forward(x, text, null, t);
        Assert.True(actual.allclose(expected, 1e-5, 1e-6), $"max diff {(actual - expected).abs().max().item<float>()}");
    }
}
