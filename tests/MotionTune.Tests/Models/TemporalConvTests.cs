using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Models;

/// <summary>ModelScope's temporal (kt, 1, 1) convolutions as conv2d over (B, C, T, H·W): the same sums as conv3d.</summary>
public sealed class TemporalConvTests
{
    public TemporalConvTests() => TorchRuntime.Initialize();

    [Theory]
    [InlineData(3, 1, 1, true)]
    [InlineData(3, 0, 2, true)]
    [InlineData(1, 0, 1, false)]
    public void TemporalKernelAsConv2dEqualsConv3d(int kt, int padT, int groups, bool bias)
    {
        var g = new Generator(11);
        var x = randn([2, 4, 6, 3, 5], ScalarType.Float64, generator: g);
        var weight = randn([6, 4 / groups, kt, 1, 1], ScalarType.Float64, generator: g);
        var b = bias ? randn([6], ScalarType.Float64, generator: g) : null;
        var expected = F.conv3d(x, weight, b, [1, 1, 1], [padT, 0, 0], null, groups);
        var actual = Conv3d.TemporalAsConv2d(x, weight, b, padT, groups);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(actual.allclose(expected, 0, 1e-12));
    }

    [Fact]
    public void StridedInputsAreReadCorrectly()
    {
        var g = new Generator(12);
        var frames = randn([2, 6, 4, 3, 5], ScalarType.Float64, generator: g).permute(0, 2, 1, 3, 4); // as TemporalConvLayer sees them
        var weight = randn([4, 4, 3, 1, 1], ScalarType.Float64, generator: g);
        var expected = F.conv3d(frames, weight, null, [1, 1, 1], [1, 0, 0]);
        Assert.True(Conv3d.TemporalAsConv2d(frames, weight, null, 1).allclose(expected, 0, 1e-12));
    }

    [Fact]
    public void OtherKernelsAreRefused() =>
        Assert.Throws<ArgumentException>(() => Conv3d.TemporalAsConv2d(zeros([1, 2, 3, 4, 4]), zeros([2, 2, 3, 3, 3]), null, 1));
}
