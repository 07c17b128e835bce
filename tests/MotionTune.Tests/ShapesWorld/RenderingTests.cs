using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

public sealed class RenderingTests
{
    static RenderingTests() => TorchRuntime.Initialize();

    private static ClipSpec Clip(string shape = "star", string colour = "red", string background = "striped", string motion = "clockwise", int seed = 3) =>
        new(new Appearance(shape, colour, background), MotionLibrary.Get(motion).Sample(16, new Random(seed)));

    [Fact]
    public void RenderingIsDeterministic()
    {
        var settings = new RenderSettings { Height = 24, Width = 24 };
        using var a = Renderer.Render(Clip(), settings);
        using var b = Renderer.Render(Clip(), settings);
        Assert.True(a.SameAs(b));
        var dataset = new ShapesDataset(Seed: 5);
        var first = new ShapesDataset(Seed: 5).Items(10, 4);
        var second = dataset.Items(10, 4);
        Assert.Equal(first.Select(i => i.Caption), second.Select(i => i.Caption));
        using var x = dataset.Render(first, settings).Frames;
        using var y = dataset.Render(second, settings).Frames;
        Assert.True(x.SameAs(y));
        Assert.NotEqual(first[0].Caption + first[1].Caption, new ShapesDataset(Seed: 6).Items(10, 2).Aggregate("", (s, i) => s + i.Caption));
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(24, 24)]
    [InlineData(32, 32)]
    [InlineData(64, 64)]
    [InlineData(256, 256)]
    [InlineData(24, 40)]
    public void EverySizeRendersFramesOfThatSize(int height, int width)
    {
        using var scope = NewDisposeScope();
        var frames = Renderer.Render(Clip(shape: "circle", colour: "blue", background: "white"), new RenderSettings { Height = height, Width = width });
        Assert.Equal(new long[] { 16, height, width, 3 }, frames.shape);
        Assert.Equal(ScalarType.Byte, frames.dtype);
        // Pure object pixels exist (the colour exactly), and so do blended edge pixels between it and the background.
        var pixels = frames.view(-1, 3).to(ScalarType.Int32);
        var blue = tensor(new[] { 40, 80, 230 });
        var white = tensor(new[] { 245, 245, 245 });
        Assert.True(pixels.eq(blue).all(1).any().item<bool>());
        var between = pixels.ne(blue).any(1).logical_and(pixels.ne(white).any(1));
        Assert.True(between.any().item<bool>(), "expected anti-aliased edge pixels");
    }

    [Fact]
    public void CoverageIsAreaExactAtSmallSizes()
    {
        // A circle of radius 0.85 * 0.18 * 24 = 3.672 px: supersampled coverage sums to its area within 1 %.
        using var coverage = Renderer.Coverage(Shapes.Get("circle"), [new Pose(0.5, 0.5), new Pose(0.37, 0.61, 1, 30)], new RenderSettings { Height = 24, Width = 24 });
        double radius = 0.85 * 0.18 * 24;
        foreach (var area in coverage.sum([1, 2]).data<float>().ToArray())
            Assert.InRange(area, Math.PI * radius * radius * 0.99, Math.PI * radius * radius * 1.01);
    }

    [Fact]
    public void BackgroundsHaveTheirPatterns()
    {
        using var scope = NewDisposeScope();
        var stripes = Renderer.BackgroundImage(Palette.Background("striped"), 32, 32);
        Assert.Equal(245f, stripes[0, 0].item<float>());
        Assert.Equal(128f, stripes[0, 4].item<float>());           // stripes are 32 / 8 = 4 pixels wide
        Assert.True(stripes[0].SameAs(stripes[31]));                // vertical
        var checker = Renderer.BackgroundImage(Palette.Background("checkered"), 32, 32);
        Assert.Equal(128f, checker[0, 0].item<float>());
        Assert.Equal(25f, checker[0, 8].item<float>());
        Assert.Equal(25f, checker[8, 0].item<float>());
        Assert.Equal(128f, checker[8, 8].item<float>());
    }

    [Fact]
    public void MismatchedClipLengthsAreRejected()
    {
        var shortClip = new ClipSpec(new Appearance("circle", "red", "white"), MotionLibrary.Get("left").Sample(8, new Random(0)));
        var error = Assert.Throws<ArgumentException>(() => Renderer.Render([Clip(), shortClip], new RenderSettings()));
        Assert.Contains("same frame count", error.Message);
        Assert.Throws<ArgumentException>(() => Renderer.Render(Clip(colour: "mauve"), new RenderSettings()));
        Assert.Throws<ArgumentException>(() => Renderer.Render(Clip(shape: "hexagon"), new RenderSettings()));
    }
}
