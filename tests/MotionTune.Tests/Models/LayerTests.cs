using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Models;

public sealed class LayerTests
{
    public LayerTests() => TorchRuntime.Initialize();

    [Fact]
    public void GradientCheckpointGivesTheSameGradientsAsPlainBackward()
    {
        manual_seed(0);
        var block = new BasicTransformerBlock(16, 2, 8, new TransformerBlockOptions { CrossAttentionDim = 12 });
        var x = randn(2, 5, 16);
        var text = randn(2, 3, 12);

        Dictionary<string, Tensor> Grads(bool checkpoint)
        {
            block.zero_grad();
            var xi = x.clone().requires_grad_();
            var y = checkpoint
                ? GradientCheckpoint.Run(a => block.forward(a[0]!, a[1], null, null), xi, text)
                : block.forward(xi, text, null, null);
            (y * y).sum().backward();
            var grads = block.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            grads["input"] = xi.grad!.clone();
            return grads;
        }

        var plain = Grads(false);
        var checkpointed = Grads(true);
        Assert.Equal(plain.Keys.Order(), checkpointed.Keys.Order());
        foreach (var (name, g) in plain)
            Assert.True(g.allclose(checkpointed[name], 1e-5, 1e-6), $"gradient of {name} differs under checkpointing");
    }

    [Fact]
    public void CheckpointIsTransparentWithoutGrad()
    {
        using var _ = no_grad();
        var x = randn(3, 4);
        var y = GradientCheckpoint.Run(a => a[0]! * 2, x);
        Assert.True((y - x * 2).abs().max().item<float>() == 0);
    }

    [Fact]
    public void AttentionMatchesExplicitSoftmaxWithMask()
    {
        manual_seed(1);
        var attention = new Attention(8, new AttentionOptions { Heads = 2, DimHead = 4, CrossAttentionDim = 6 });
        var x = randn(1, 3, 8);
        var ctx = randn(1, 5, 6);
        var keep = tensor(new[] { true, true, false, true, false }).view(1, 1, 1, 5);
        var output = attention.forward(x, ctx, keep);

        var q = attention.to_q.forward(x).view(1, 3, 2, 4).transpose(1, 2);
        var k = attention.to_k.forward(ctx).view(1, 5, 2, 4).transpose(1, 2);
        var v = attention.to_v.forward(ctx).view(1, 5, 2, 4).transpose(1, 2);
        var scores = q.matmul(k.transpose(-1, -2)) / 2.0;
        scores = scores.masked_fill(keep.logical_not(), double.NegativeInfinity);
        var expected = F.softmax(scores, -1).matmul(v).transpose(1, 2).reshape(1, 3, 8);
        expected = attention.to_out[0].forward(expected);
        Assert.True(output.allclose(expected, 1e-5, 1e-6));
    }

    [Fact]
    public void TimestepFeaturesFollowTheSinusoidalFormula()
    {
        var t = tensor(new float[] { 0, 500 });
        var emb = Timesteps.Embed(t, 6, flipSinToCos: true, downscaleFreqShift: 0);
        // half = 3, frequencies exp(-ln(1e4)·i/3), flipped to [cos, sin]
        var freqs = Enumerable.Range(0, 3).Select(i => Math.Exp(-Math.Log(10000) * i / 3)).ToArray();
        var row = emb[1].data<float>().ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Math.Cos(500 * freqs[i]), row[i], 4);
            Assert.Equal(Math.Sin(500 * freqs[i]), row[i + 3], 4);
        }
        Assert.Equal(new float[] { 1, 1, 1, 0, 0, 0 }, emb[0].data<float>().ToArray());
    }

    [Fact]
    public void FlopCounterCountsMatmulsOnTheMetaDevice()
    {
        BasicTransformerBlock block;
        using (ParameterFactory.Scope(META)) block = new BasicTransformerBlock(64, 4, 16, new TransformerBlockOptions { CrossAttentionDim = 32 });
        var x = empty([2, 10, 64], device: META);
        var text = empty([2, 7, 32], device: META);
        long flops = FlopCounter.Measure(() => block.forward(x, text, null, null));
        long tokens = 2 * 10;
        long expected =
            2 * tokens * 64 * 64 * 4                  // attn1 q, k, v, out
            + 2 * (2 * 4 * 10 * 10 * 16) * 2          // attn1 QK^T and AV
            + 2 * tokens * 64 * 64 * 2                // attn2 q, out
            + 2 * (2 * 7) * 32 * 64 * 2               // attn2 k, v from the text
            + 2 * (2 * 4 * 10 * 7 * 16) * 2           // attn2 QK^T and AV
            + 2 * tokens * 64 * (256 * 2)             // GEGLU projection
            + 2 * tokens * 256 * 64;                  // output projection
        Assert.Equal(expected, flops);
        Assert.False(FlopCounter.Active);
    }

    [Fact]
    public void AttentionInBatchSlicesEqualsOneCall()
    {
        manual_seed(4);
        var q = randn(7, 3, 5, 8);
        var k = randn(7, 3, 6, 8);
        var v = randn(7, 3, 6, 8);
        var mask = rand(7, 1, 5, 6).gt(0.3);
        var whole = F.scaled_dot_product_attention(q, k, v, mask);
        var sliced = Attention.AttendInSlices(q, k, v, mask, maxBatchHeads: 6); // two samples (6 batch·heads) per call
        Assert.True(sliced.allclose(whole, 1e-6, 1e-6));
    }

    [Fact]
    public void ShortSequenceAttentionEqualsTheFusedOne()
    {
        manual_seed(5);
        var q = randn(9, 2, 16, 8).mul(3); // sharp attention weights
        var k = randn(9, 2, 16, 8);
        var v = randn(9, 2, 16, 8);
        var expected = F.scaled_dot_product_attention(q, k, v);
        Assert.True(Attention.AttendShort(q, k, v).allclose(expected, 1e-5, 1e-6));
        // bf16 inputs: computed in float32 and rounded once, so within bf16 rounding of the float32 result.
        var (qb, kb, vb) = (q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16));
        var reference = F.scaled_dot_product_attention(qb.to(ScalarType.Float32), kb.to(ScalarType.Float32), vb.to(ScalarType.Float32));
        var shortBf16 = Attention.AttendShort(qb, kb, vb);
        Assert.Equal(ScalarType.BFloat16, shortBf16.dtype);
        Assert.True(shortBf16.to(ScalarType.Float32).allclose(reference, 1e-2, 1e-2));
    }
}
