using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

public sealed class ConvShapeTests
{
    public ConvShapeTests() => TorchRuntime.Initialize();

    [Theory]
    [InlineData(3, 1, 1, 9, 10)]
    [InlineData(3, 2, 1, 9, 10)]
    [InlineData(3, 2, 0, 9, 10)]
    [InlineData(1, 1, 0, 5, 4)]
    public void MetaConv2dHasTheShapeOfTheRealOne(long kernel, long stride, long padding, long h, long w)
    {
        var conv = new Conv2d(3, 5, kernel, stride, padding);
        var real = conv.forward(zeros(2, 3, h, w));
        Tensor meta;
        using (ParameterFactory.Scope(META)) meta = new Conv2d(3, 5, kernel, stride, padding).forward(empty([2, 3, h, w], device: META));
        Assert.True(meta.is_meta);
        Assert.Equal(real.shape, meta.shape);
    }

    [Fact]
    public void MetaConv3dHasTheShapeOfTheRealOne()
    {
        var real = new Conv3d(4, 6, (3, 1, 1), (1, 1, 1), (1, 0, 0)).forward(zeros([1, 4, 5, 3, 2]));
        Tensor meta;
        using (ParameterFactory.Scope(META))
            meta = new Conv3d(4, 6, (3, 1, 1), (1, 1, 1), (1, 0, 0)).forward(empty([1, 4, 5, 3, 2], device: META));
        Assert.Equal(real.shape, meta.shape);
    }
}
