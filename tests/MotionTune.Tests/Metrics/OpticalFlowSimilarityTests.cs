using MotionTune.Metrics;
using MotionTune.Runtime;
using MotionTune.Tests.Video;
using static TorchSharp.torch;

namespace MotionTune.Tests.Metrics;

public sealed class OpticalFlowSimilarityTests
{
    public OpticalFlowSimilarityTests() => TorchRuntime.Initialize();

    [Fact]
    public void GridHasSpacingAsMarginInRowMajorOrder()
    {
        var grid = LucasKanade.GridPoints(96, 96, 8);
        Assert.Equal(121, grid.Length);
        Assert.Equal((8f, 8f), (grid[0].X, grid[0].Y));
        Assert.Equal((16f, 8f), (grid[1].X, grid[1].Y));
        Assert.Equal((88f, 88f), (grid[^1].X, grid[^1].Y));
        Assert.Equal(3 * 5, LucasKanade.GridPoints(40, 64, 10).Length); // y 10..30, x 10..50
        Assert.Throws<ArgumentException>(() => LucasKanade.GridPoints(10, 10, 8));
    }

    [Fact]
    public void LucasKanadeRecoversASubPixelTranslation()
    {
        using var frames = SyntheticVideo.GreyTexture(3, 64, 64, 1.25, -0.5);
        using var flow = LucasKanade.Grid(frames);
        Assert.Equal([2L, 49, 2], flow.Flow.shape);
        using var found = flow.Valid.all();
        Assert.True(found.item<bool>());
        using var mean = flow.Flow.mean([0, 1]);
        Assert.Equal(1.25, mean[0].item<float>(), 0.05);
        Assert.Equal(-0.5, mean[1].item<float>(), 0.05);
    }

    [Fact]
    public void AVideoWithItselfScoresOne()
    {
        using var frames = SyntheticVideo.GreyTexture(5, 64, 64, 1.5, -0.75);
        var result = OpticalFlowSimilarity.Compute(frames, frames);
        Assert.Equal(1.0, result.Score, 9);
        Assert.Equal(4, result.PairScores.Count);
        Assert.Equal(49, result.GridPoints);
        Assert.Equal(1.0, result.ValidFraction);

        using var still = SyntheticVideo.GreyTexture(3, 64, 64, 0, 0);
        Assert.Equal(1.0, OpticalFlowSimilarity.Compute(still, still).Score, 9);
    }

    [Fact]
    public void TheReversedMotionScoresMinusOne()
    {
        using var frames = SyntheticVideo.GreyTexture(5, 64, 64, 1.5, -0.75);
        using var reversed = frames.flip(0);
        var score = OpticalFlowSimilarity.Compute(frames, reversed).Score;
        Assert.True(score < -0.98, $"score {score}");
    }

    [Fact]
    public void ADifferentlyColouredCopyWithTheSameMotionScoresOne()
    {
        using var texture = SyntheticVideo.Texture(5, 64, 64, 1.5, -0.75);
        using var grey = SyntheticVideo.ToRgb(texture, v => (v, v, v));
        // Inverted, tinted copy: its grayscale has the opposite contrast and a different range.
        using var tinted = SyntheticVideo.ToRgb(texture, v => (1 - v, 0.6 * (1 - v) + 0.2, 0.5 * v));
        var score = OpticalFlowSimilarity.Compute(grey, tinted).Score;
        Assert.True(score > 0.98, $"score {score}");
        using var otherMotion = SyntheticVideo.GreyTexture(5, 64, 64, 0.75, 1.5); // perpendicular
        var perpendicular = OpticalFlowSimilarity.Compute(grey, otherMotion).Score;
        Assert.True(Math.Abs(perpendicular) < 0.1, $"perpendicular score {perpendicular}");
    }

    [Fact]
    public void StillAndLostPointsFollowTheDocumentedRule()
    {
        // One pair, five points: both still -> 1; one still -> 0; same direction -> 1; opposite -> -1; lost -> left out.
        using var u = tensor(new float[] { 0.01f, 0, 1, 0, 2, 0, 1, 1, 3, 0 }, [1, 5, 2]);
        using var v = tensor(new float[] { 0, -0.02f, 0, 0, 5, 0, -1, -1, -3, 0 }, [1, 5, 2]);
        using var allFound = ones(1, 5, dtype: ScalarType.Bool);
        using var lastLost = tensor(new[] { true, true, true, true, false }, [1, 5]);
        using var a = new GridFlow(zeros(5, 2), u.alias(), allFound.alias(), 8);
        using var b = new GridFlow(zeros(5, 2), v.alias(), lastLost.alias(), 8);
        var result = OpticalFlowSimilarity.Compare(a, b, staticThreshold: 0.1);
        Assert.Equal((1 + 0 + 1 - 1) / 4.0, result.Score, 9);
        Assert.Equal(4 / 5.0, result.ValidFraction, 9);

        using var noneFound = zeros(1, 5, dtype: ScalarType.Bool);
        using var c = new GridFlow(zeros(5, 2), v.alias(), noneFound.alias(), 8);
        Assert.True(double.IsNaN(OpticalFlowSimilarity.Compare(a, c).Score));
    }

    [Fact]
    public void VideosOfDifferentShapesAreRejected()
    {
        using var a = SyntheticVideo.GreyTexture(4, 32, 32, 1, 0);
        using var b = SyntheticVideo.GreyTexture(3, 32, 32, 1, 0);
        Assert.Contains("shape", Assert.Throws<ArgumentException>(() => OpticalFlowSimilarity.Compute(a, b)).Message);
        using var single = SyntheticVideo.GreyTexture(1, 32, 32, 1, 0);
        Assert.Throws<ArgumentException>(() => OpticalFlowSimilarity.Compute(single, single));
    }
}
