using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Models.Layers;

/// <summary><see cref="Linear.Project"/>: the flattened 2-D GEMM gives F.linear's result for every input layout, with gradients.</summary>
public sealed class LinearTests
{
    static LinearTests() => TorchRuntime.Initialize();

    public static TheoryData<string> Layouts() => new() { "2-D", "3-D", "4-D", "strided 3-D" };

    private static Tensor Input(string layout) => layout switch
    {
        "2-D" => randn(24, 8),
        "3-D" => randn(4, 6, 8),
        "4-D" => randn(2, 3, 4, 8),
        _ => randn(6, 4, 8).transpose(0, 1), // (4, 6, 8), not contiguous
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void ProjectMatchesFLinearInValueShapeAndGradients(string layout)
    {
        manual_seed(5);
        using var scope = NewDisposeScope();
        var weight = randn(5, 8).requires_grad_(true);
        var bias = randn(5).requires_grad_(true);
        var input = Input(layout).detach().requires_grad_(true);

        var expected = F.linear(input, weight, bias);
        var (gx, gw, gb) = Gradients(expected, input, weight, bias);
        var actual = Linear.Project(input, weight, bias);
        var (ax, aw, ab) = Gradients(actual, input, weight, bias);

        Assert.Equal(expected.shape, actual.shape);
        Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-6), layout);
        Assert.True(ax.allclose(gx, rtol: 1e-5, atol: 1e-6) && aw.allclose(gw, rtol: 1e-5, atol: 1e-6) && ab.allclose(gb, rtol: 1e-5, atol: 1e-6));
        using (var noBias = Linear.Project(input, weight, null))
        using (var reference = F.linear(input, weight))
            Assert.True(noBias.allclose(reference, rtol: 1e-5, atol: 1e-6));
    }

    private static (Tensor, Tensor, Tensor) Gradients(Tensor output, Tensor input, Tensor weight, Tensor bias)
    {
        var grads = autograd.grad([output.square().sum()], [input, weight, bias]);
        return (grads[0], grads[1], grads[2]);
    }
}
