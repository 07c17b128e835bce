using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

public sealed class MotionMetricsTests(ITestOutputHelper output)
{
    static MotionMetricsTests() => TorchRuntime.Initialize();

    [Fact]
    public void EveryLibraryMotionIsClassifiedFromItsPath()
    {
        // Fresh draws (other seeds than the classifier's examples), at the default 16 frames and at 24.
        foreach (int frames in new[] { 16, 24 })
            foreach (var motion in MotionLibrary.All)
                for (int seed = 0; seed < 20; seed++)
                {
                    var path = MotionPath.Of(motion.Sample(frames, new Random(1000 + seed)));
                    var result = MotionClassifier.Classify(path);
                    Assert.True(motion.Name == result.Motion, $"{motion.Name} (seed {seed}, {frames} frames) classified as {result.Motion}");
                }
    }

    [Fact]
    public void LibraryMotionsAreClassifiedFromRenderedFrames()
    {
        // End to end at 24 x 24: dataset clips (random appearance and size), read back from pixels.
        var dataset = new ShapesDataset(Seed: 11);
        var items = dataset.Items(0, 48);
        using var frames = dataset.Render(items, new RenderSettings { Height = 24, Width = 24 }).Frames;
        var readings = FrameReader.ReadBatch(frames);
        using (var third = frames[3]) Assert.Equal(FrameReader.Read(third).Frames, readings[3].Frames);
        int right = 0;
        for (int i = 0; i < items.Count; i++)
        {
            var result = MotionClassifier.Classify(readings[i].Path);
            if (result.Motion == items[i].Motion.Name) right++;
            else output.WriteLine($"{items[i].Caption}: read as {result.Motion}");
        }
        Assert.Equal(items.Count, right);
    }

    [Fact]
    public void APathWithTooFewPositionsIsNotClassified()
    {
        var x = Enumerable.Repeat(double.NaN, 16).ToArray();
        x[3] = 0.5;
        Assert.Null(MotionClassifier.Classify(new MotionPath(x, x.ToArray())).Motion);
    }

    [Fact]
    public void FidelityOfAPathToItselfIsPerfect()
    {
        foreach (var motion in CustomMotions.BuiltIn())
        {
            var path = MotionPath.Of(motion.Sample(16, new Random(0)));
            var fidelity = MotionMetrics.Fidelity(path, path);
            Assert.Equal(1, fidelity.DisplacementCosine, 12);
            Assert.Equal(0, fidelity.TrajectoryDistance, 12);
            Assert.Equal(16, fidelity.Frames);
        }
    }

    [Fact]
    public void FidelityIgnoresPlaceAndSpeedButNotDirection()
    {
        var path = MotionPath.Of(MotionLibrary.Get("right").Sample(16, new Random(1)));
        var shifted = new MotionPath(path.X.Select(x => x - 0.1).ToArray(), path.Y.Select(y => y + 0.05).ToArray());
        Assert.Equal(1, MotionMetrics.DisplacementCosine(shifted, path), 12);
        Assert.Equal(0, MotionMetrics.TrajectoryDistance(shifted, path), 12);

        var reversed = new MotionPath(path.X.Reverse().ToArray(), path.Y.Reverse().ToArray());
        Assert.Equal(-1, MotionMetrics.DisplacementCosine(reversed, path), 12);

        var slower = new MotionPath(path.X.Select(x => 0.5 + (x - 0.5) / 2).ToArray(), path.Y);
        Assert.Equal(1, MotionMetrics.DisplacementCosine(slower, path), 12);
        Assert.True(MotionMetrics.TrajectoryDistance(slower, path) > 0.05);

        var down = MotionPath.Of(MotionLibrary.Get("down").Sample(16, new Random(1)));
        Assert.Equal(0, MotionMetrics.DisplacementCosine(down, path), 12);               // perpendicular
    }

    [Fact]
    public void StillnessAgreesWithStillnessOnly()
    {
        double[] Still(double v) => Enumerable.Repeat(v, 16).ToArray();
        var still = new MotionPath(Still(0.5), Still(0.5));
        var moving = MotionPath.Of(MotionLibrary.Get("left").Sample(16, new Random(2)));
        Assert.Equal(1, MotionMetrics.DisplacementCosine(still, new MotionPath(Still(0.3), Still(0.6))), 12);
        Assert.Equal(0, MotionMetrics.DisplacementCosine(still, moving), 12);
    }

    [Fact]
    public void MissingFramesAreLeftOut()
    {
        var path = MotionPath.Of(MotionLibrary.Get("up").Sample(16, new Random(4)));
        var gappy = new MotionPath(path.X.ToArray(), path.Y.ToArray());
        gappy.X[5] = double.NaN;
        var fidelity = MotionMetrics.Fidelity(gappy, path);
        Assert.Equal(15, fidelity.Frames);
        Assert.Equal(1, fidelity.DisplacementCosine, 12);
        Assert.Equal(0, fidelity.TrajectoryDistance, 12);
        Assert.Throws<ArgumentException>(() => MotionMetrics.Fidelity(path, MotionPath.Of(MotionLibrary.Get("up").Sample(8, new Random(4)))));
    }

    [Fact]
    public void DiversityIsZeroForIdenticalSamplesAndGrowsWithVariety()
    {
        var motion = MotionLibrary.Get("clockwise");
        var same = Enumerable.Range(0, 3).Select(_ => MotionPath.Of(motion.Sample(16, new Random(9)))).ToArray();
        Assert.Equal(0, MotionMetrics.Diversity(same), 12);
        var varied = Enumerable.Range(0, 3).Select(s => MotionPath.Of(motion.Sample(16, new Random(s)))).ToArray();
        Assert.True(MotionMetrics.Diversity(varied) > 0.05);
        Assert.Throws<ArgumentException>(() => MotionMetrics.Diversity([same[0]]));
    }
}
