using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The reader recovers every attribute from rendered frames, also small and noisy ones.</summary>
public sealed class FrameReaderTests(ITestOutputHelper output)
{
    static FrameReaderTests() => TorchRuntime.Initialize();

    /// <summary>Every (shape, colour, background) triple, each in <paramref name="frames"/> random poses: anywhere the path library goes, any rotation, size 0.85..1.15.</summary>
    private static List<ClipSpec> AllAppearancesInRandomPoses(int frames, int seed)
    {
        var random = new Random(seed);
        var clips = new List<ClipSpec>();
        foreach (var shape in Shapes.All)
            foreach (var colour in Palette.Colours)
                foreach (var background in Palette.Backgrounds)
                {
                    var poses = Enumerable.Range(0, frames).Select(_ => new Pose(
                        0.22 + 0.56 * random.NextDouble(), 0.22 + 0.56 * random.NextDouble(),
                        0.85 + 0.3 * random.NextDouble(), 360 * random.NextDouble())).ToArray();
                    clips.Add(new ClipSpec(new Appearance(shape.Name, colour.Name, background.Name), new Trajectory(poses)));
                }
        return clips;
    }

    private (int Wrong, double WorstCentroidPixels) ReadAll(List<ClipSpec> clips, int size, double noise, double blur = 0)
    {
        var settings = new RenderSettings { Height = size, Width = size };
        using var scope = NewDisposeScope();
        var videos = Renderer.Render(clips, settings).to(ScalarType.Float32).div(255);
        if (blur > 0) videos = Blur(videos.view(-1, size, size, 3), blur).view(videos.shape);
        if (noise > 0) videos = (videos + randn(videos.shape, generator: new Generator(1234)) * noise).clamp(0, 1);
        int wrong = 0;
        double worst = 0;
        var confusions = new Dictionary<string, int>();
        int frames = clips[0].Trajectory.Frames;
        var reading = FrameReader.Read(videos.view(-1, size, size, 3)); // frames are read independently: all in one call
        for (int c = 0; c < clips.Count; c++)
        {
            var truth = clips[c].Appearance;
            for (int f = 0; f < frames; f++)
            {
                var r = reading.Frames[c * frames + f];
                var pose = clips[c].Trajectory.Poses[f];
                worst = Math.Max(worst, Math.Max(Math.Abs(r.X - pose.X), Math.Abs(r.Y - pose.Y)) * size);
                if (r.Shape == truth.Shape && r.Colour == truth.Colour && r.Background == truth.Background) continue;
                wrong++;
                var key = $"{truth} read as {r.Colour} {r.Shape} on {r.Background}";
                confusions[key] = confusions.GetValueOrDefault(key) + 1;
            }
        }
        output.WriteLine($"{size}x{size}, noise {noise}, blur {blur}: {wrong} of {clips.Count * clips[0].Trajectory.Frames} frames misread; worst centroid error {worst:F3} px");
        foreach (var (key, count) in confusions.OrderByDescending(p => p.Value).Take(10)) output.WriteLine($"  {count} x {key}");
        return (wrong, worst);
    }

    [Theory]
    [InlineData(24)]
    [InlineData(32)]
    public void EveryAttributeIsReadOnCleanFrames(int size)
    {
        var (wrong, worst) = ReadAll(AllAppearancesInRandomPoses(4, seed: size), size, noise: 0);
        Assert.Equal(0, wrong);
        Assert.True(worst < 0.1, $"centroid off by {worst:F3} px");
    }

    [Theory]
    [InlineData(24)]
    [InlineData(32)]
    public void EveryAttributeIsReadUnderMildNoise(int size)
    {
        var (wrong, worst) = ReadAll(AllAppearancesInRandomPoses(4, seed: 100 + size), size, noise: 0.05);
        Assert.Equal(0, wrong);
        Assert.True(worst < 0.5, $"centroid off by {worst:F3} px");
    }

    [Fact]
    public void SoftFramesAreReadToo()
    {
        // Generated frames are softer than rendered ones: a Gaussian blur of 0.6 pixels.
        var (wrong, worst) = ReadAll(AllAppearancesInRandomPoses(2, seed: 5), 32, noise: 0, blur: 0.6);
        Assert.Equal(0, wrong);
        Assert.True(worst < 0.1, $"centroid off by {worst:F3} px");
    }

    /// <summary>A 5 x 5 Gaussian blur of (N, H, W, 3) frames.</summary>
    private static Tensor Blur(Tensor frames, double sigma)
    {
        var offsets = arange(5, ScalarType.Float32) - 2;
        var g = (-(offsets * offsets) / (2 * sigma * sigma)).exp();
        g /= g.sum();
        var kernel = (g.view(-1, 1) * g.view(1, -1)).view(1, 1, 5, 5).expand(3, 1, 5, 5).contiguous();
        var x = nn.functional.pad(frames.permute(0, 3, 1, 2), [2, 2, 2, 2], TorchSharp.PaddingModes.Replicate);
        return nn.functional.conv2d(x, kernel, groups: 3).permute(0, 2, 3, 1);
    }

    [Fact]
    public void LargeFramesAreReadToo()
    {
        var clips = AllAppearancesInRandomPoses(1, seed: 7).Where((_, i) => i % 7 == 0).ToList();
        var (wrong, _) = ReadAll(clips, 96, noise: 0);
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void AFrameWithoutObjectHasNoObjectAttributes()
    {
        using var scope = NewDisposeScope();
        var grey = Renderer.BackgroundImage(Palette.Background("striped"), 24, 24, 8).round().to(ScalarType.Byte);
        var frames = stack([grey, grey, grey], -1).unsqueeze(0).expand(3, -1, -1, -1);
        var reading = FrameReader.Read(frames);
        Assert.All(reading.Frames, f =>
        {
            Assert.False(f.HasObject);
            Assert.Null(f.Shape);
            Assert.True(double.IsNaN(f.X));
            Assert.Equal("striped", f.Background);
        });
    }
}
