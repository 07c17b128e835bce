using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

public sealed class DatasetTests
{
    static DatasetTests() => TorchRuntime.Initialize();

    [Fact]
    public void HeldOutTriplesAreNewOnlyAsTriples()
    {
        var train = ShapesDataset.Appearances(DatasetSplit.Train);
        var heldOut = ShapesDataset.Appearances(DatasetSplit.HeldOut);
        Assert.Equal(20, heldOut.Count);
        Assert.Equal(Shapes.All.Count * Palette.Colours.Count * Palette.Backgrounds.Count, train.Count + heldOut.Count);
        Assert.Empty(train.Intersect(heldOut));
        foreach (var a in heldOut)
        {
            Assert.Contains(train, t => t.Shape == a.Shape && t.Colour == a.Colour);
            Assert.Contains(train, t => t.Shape == a.Shape && t.Background == a.Background);
            Assert.Contains(train, t => t.Colour == a.Colour && t.Background == a.Background);
        }
    }

    [Fact]
    public void SplitsDrawOnlyTheirOwnCombinationsAndCoverTheLibrary()
    {
        var dataset = new ShapesDataset(Seed: 3);
        var train = dataset.Items(0, 600);
        Assert.All(train, i => Assert.False(ShapesDataset.IsHeldOut(i.Clip.Appearance)));
        Assert.All(dataset.Items(0, 50, DatasetSplit.HeldOut), i => Assert.True(ShapesDataset.IsHeldOut(i.Clip.Appearance)));
        Assert.Equal(MotionLibrary.All.Count, train.Select(i => i.Motion.Name).Distinct().Count());
        Assert.All(train, i => Assert.Equal(Captions.Describe(i.Clip.Appearance, i.Motion), i.Caption));
        Assert.All(train, i => Assert.InRange(i.Clip.Trajectory.Poses[0].Scale, 0.9, 1.1));
    }

    [Fact]
    public void AWrittenDatasetHasFramesAndCaptions()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"motiontune-dataset-{Guid.NewGuid():N}");
        try
        {
            new ShapesDataset(Frames: 4).Write(dir, 3, new RenderSettings { Height = 16, Width = 16 });
            var lines = File.ReadAllLines(Path.Combine(dir, "captions.csv"));
            Assert.Equal(4, lines.Length);
            Assert.Equal("video,caption,shape,colour,background,motion,split", lines[0]);
            Assert.StartsWith("train-000000,a", lines[1]);
            using var clip = VideoFile.Read(Path.Combine(dir, "frames", "train-000002"));
            Assert.Equal(new long[] { 4, 16, 16, 3 }, clip.Frames.shape);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RenderedHeldOutClipsMeetEveryQualityGate()
    {
        // The gates' meter on ground truth: clips rendered from their captions are read back perfectly.
        var dataset = new ShapesDataset(Seed: 8);
        var items = dataset.Items(0, 24, DatasetSplit.HeldOut);
        var (frames, captions) = dataset.Render(items, new RenderSettings { Height = 24, Width = 24 });
        using (frames)
        {
            var accuracy = CaptionAccuracy.Measure(Enumerable.Range(0, items.Count).Select(i => (frames[i], captions[i])));
            Assert.Equal(new CaptionAccuracy(1, 1, 1, 1, 24), accuracy);
        }
    }

    [Fact]
    public void ClipsOfTheWrongCaptionFailTheGates()
    {
        var dataset = new ShapesDataset(Seed: 8);
        var items = dataset.Items(0, 6);
        var (frames, _) = dataset.Render(items, new RenderSettings { Height = 24, Width = 24 });
        using (frames)
        {
            // Each clip judged against the next clip's caption: attributes and motions mostly disagree.
            var shifted = Enumerable.Range(0, items.Count).Select(i => (frames[i], items[(i + 1) % items.Count].Caption));
            var accuracy = CaptionAccuracy.Measure(shifted);
            var expectedColour = Enumerable.Range(0, items.Count).Count(i => items[i].Clip.Appearance.Colour == items[(i + 1) % items.Count].Clip.Appearance.Colour) / (double)items.Count;
            Assert.Equal(expectedColour, accuracy.Colour, 12);
            Assert.True(accuracy.Motion < 1);
        }
    }
}
