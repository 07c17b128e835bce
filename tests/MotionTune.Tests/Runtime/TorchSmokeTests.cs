using MotionTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Runtime;

/// <summary>libtorch loads and computes on this machine (this is what the native-library patch is for).</summary>
public sealed class TorchSmokeTests
{
    public TorchSmokeTests() => TorchRuntime.Initialize();

    [Fact]
    public void TensorMathMatchesHandComputation()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        var b = tensor(new float[] { 5, 6, 7, 8 }).reshape(2, 2);
        var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }

    [Fact]
    public void AutogradGivesTheAnalyticGradient()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 0.5f, -1.5f, 2f }, requires_grad: true);
        var y = (x * x * x).sum(); // dy/dx = 3x²
        y.backward();
        var expected = new float[] { 0.75f, 6.75f, 12f };
        var grad = x.grad!.data<float>().ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], grad[i], 5);
    }

    [Fact]
    public void Bf16ScaledDotProductAttentionMatchesExplicitSoftmax()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        var q = randn(2, 4, 16, 32);
        var k = randn(2, 4, 16, 32);
        var v = randn(2, 4, 16, 32);
        var reference = F.softmax(q.matmul(k.transpose(-1, -2)) / Math.Sqrt(32), -1).matmul(v);
        var qb = q.to(ScalarType.BFloat16).requires_grad_();
        var output = F.scaled_dot_product_attention(qb, k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, output.dtype);
        double err = (output.to(ScalarType.Float32) - reference).abs().max().item<float>();
        Assert.True(err < 0.05, $"bf16 SDPA differs from fp32 softmax attention by {err}");
        output.sum().backward();
        Assert.NotNull(qb.grad);
        Assert.True(qb.grad!.isfinite().all().item<bool>());
    }
}
