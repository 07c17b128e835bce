using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The appearance and motion metrics on constructed cases with known answers.</summary>
public sealed class EditScoreTests
{
    static EditScoreTests() => TorchRuntime.Initialize();

    private static readonly RenderSettings Settings = new() { Height = 24, Width = 24 };
    private static readonly CustomMotion Hop = CustomMotions.BuiltIn().Single(m => m.Name == "hop");
    private static readonly Appearance Reference = new("circle", "red", "white");

    private static Tensor Render(Appearance appearance, Motion? motion = null) =>
        Renderer.Render(new ClipSpec(appearance, (motion ?? Hop).Sample(16, new Random(0))), Settings);

    private static MotionPath ReferencePath()
    {
        using var frames = Render(Reference);
        return FrameReader.Read(frames).Path;
    }

    [Fact]
    public void TheReferenceScoredAgainstItsOwnCaptionIsPerfect()
    {
        using var frames = Render(Reference);
        var score = EditScorer.Score(frames, Captions.Describe(Reference), Reference, ReferencePath());
        Assert.Equal(new AttributeShares(1, 1, 1, 1), score.Alignment);
        Assert.Equal(new Leakage(null, null, null, 0), score.Leakage);
        Assert.Equal(1, score.Fidelity.DisplacementCosine, 12);
        Assert.Equal(0, score.Fidelity.TrajectoryDistance, 12);
        Assert.Equal(16, score.Fidelity.Frames);
    }

    [Fact]
    public void AColourSwappedVideoAlignsWithTheNewColourAndLeaksNothing()
    {
        var prompt = Reference with { Colour = "blue" };
        using var frames = Render(prompt);
        var score = EditScorer.Score(frames, Captions.Describe(prompt), Reference, ReferencePath());
        Assert.Equal(new AttributeShares(1, 1, 1, 1), score.Alignment);
        Assert.Equal(new Leakage(0, null, null, 0), score.Leakage);
        Assert.Equal(1, score.Fidelity.DisplacementCosine, 3);                        // same motion, read from other pixels
        Assert.True(score.Fidelity.TrajectoryDistance < 0.005);
    }

    [Fact]
    public void TheUneditedReferenceLeaksEverythingThePromptChanged()
    {
        using var frames = Render(Reference);
        var prompt = new Appearance("star", "green", "checkered");
        var score = EditScorer.Score(frames, Captions.Describe(prompt), Reference, ReferencePath());
        Assert.Equal(new AttributeShares(0, 0, 0, 0), score.Alignment);
        Assert.Equal(new Leakage(1, 1, 1, 1), score.Leakage);
    }

    [Fact]
    public void HalfTheFramesLeakingGivesHalfTheLeakage()
    {
        // Frames 0-7 show the reference's colour, frames 8-15 the prompt's.
        var prompt = Reference with { Colour = "yellow", Background = "black" };
        using var leaky = Render(Reference with { Background = "black" });
        using var good = Render(prompt);
        using var mixed = cat([leaky.slice(0, 0, 8, 1), good.slice(0, 8, 16, 1)], 0);
        var score = EditScorer.Score(mixed, Captions.Describe(prompt), Reference, ReferencePath());
        Assert.Equal(new AttributeShares(0.5, 1, 1, 0.5), score.Alignment);
        Assert.Equal(new Leakage(0.5, null, 0, 0.25), score.Leakage);
    }

    [Fact]
    public void ADifferentMotionLowersFidelity()
    {
        var prompt = Reference with { Shape = "square" };
        using var frames = Render(prompt, CustomMotions.BuiltIn().Single(m => m.Name == "spiral"));
        var score = EditScorer.Score(frames, Captions.Describe(prompt), Reference, ReferencePath());
        Assert.Equal(1, score.Alignment.All);
        Assert.True(score.Fidelity.DisplacementCosine < 0.5, $"cosine {score.Fidelity.DisplacementCosine}");
        Assert.True(score.Fidelity.TrajectoryDistance > 0.05, $"distance {score.Fidelity.TrajectoryDistance}");
    }

    [Fact]
    public void FlowSimilarityIsAddedWhenTheReferenceFramesAreGiven()
    {
        using var reference = Render(Reference);
        var path = FrameReader.Read(reference).Path;
        var prompt = Reference with { Colour = "green" };
        using var same = Render(prompt);
        using var other = Render(prompt, MotionLibrary.Get("left"));
        var good = EditScorer.Score(same, Captions.Describe(prompt), Reference, path, reference);
        var bad = EditScorer.Score(other, Captions.Describe(prompt), Reference, path, reference);
        Assert.Null(EditScorer.Score(same, Captions.Describe(prompt), Reference, path).FlowSimilarity);
        Assert.True(good.FlowSimilarity > 0.9, $"same motion: flow similarity {good.FlowSimilarity}");
        Assert.True(bad.FlowSimilarity < good.FlowSimilarity - 0.2, $"other motion: flow similarity {bad.FlowSimilarity} vs {good.FlowSimilarity}");
        Assert.Equal(2, EditScorer.FlowGridSpacing(24, 24));
        Assert.Equal(8, EditScorer.FlowGridSpacing(256, 256));
    }

    [Fact]
    public void LibraryMotionsAreRecognisedInScores()
    {
        var appearance = new Appearance("triangle", "purple", "striped");
        using var frames = Render(appearance, MotionLibrary.Get("zigzag"));
        var score = EditScorer.Score(frames, Captions.Describe(appearance, MotionLibrary.Get("zigzag")), Reference, ReferencePath());
        Assert.Equal("zigzag", score.Motion.Motion);
        Assert.True(score.Motion.Margin > 0);
    }

    [Fact]
    public void ProbeScorerWeighsOnlyTheAttributesTheEditChanges()
    {
        using var original = Render(Reference);                           // a red circle on white
        using var edited = Render(new Appearance("circle", "blue", "white"));
        const string caption = "a red circle on a white background", recoloured = "a blue circle on a white background";
        var all = new ShapesAppearanceScorer();
        var colourOnly = all.ForEdit(caption, recoloured);
        // Over all three attributes the original already matches shape and background: two thirds.
        Assert.Equal(100.0 * 2 / 3, all.Score(original, recoloured), 6);
        // For a colour edit only the colour counts: none of the original's frames, all of the edited video's.
        Assert.Equal(0, colourOnly.Score(original, recoloured), 6);
        Assert.Equal(100, colourOnly.Score(edited, recoloured), 6);
        Assert.Same(all, all.ForEdit(caption, caption)); // nothing edited: all three
    }
}
