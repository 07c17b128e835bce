using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>Settings of <see cref="OpticalFlowSimilarity"/>.</summary>
public sealed record OpticalFlowSimilarityOptions
{
    /// <summary>Pixels between grid points, and margin to the edges (<see cref="LucasKanade.GridPoints"/>).</summary>
    public int GridSpacing { get; init; } = GridFlow.DefaultSpacing;

    /// <summary>
    /// Displacements shorter than this many pixels per frame count as "no motion": their direction is tracker noise
    /// (LK on a static textured patch returns a few hundredths of a pixel pointing anywhere, more with compression noise).
    /// </summary>
    public double StaticThreshold { get; init; } = 0.1;

    /// <summary>The tracker's settings.</summary>
    public LucasKanadeOptions LucasKanade { get; init; } = new();
}

/// <summary>The outcome of <see cref="OpticalFlowSimilarity.Compute(Tensor, Tensor, OpticalFlowSimilarityOptions?)"/>.</summary>
/// <param name="Score">Mean over frame pairs of the per-pair scores, in [−1, 1]; NaN when no point was tracked in both videos.</param>
/// <param name="PairScores">Per consecutive frame pair, the mean similarity over the points tracked in both videos (NaN where there were none).</param>
/// <param name="ValidFraction">Share of (pair, point) cells tracked in both videos, in [0, 1]; a low value means the score rests on few points.</param>
/// <param name="GridPoints">Points per frame pair.</param>
public sealed record OpticalFlowSimilarityResult(double Score, IReadOnlyList<double> PairScores, double ValidFraction, int GridPoints);

/// <summary>
/// Optical-flow similarity of two videos, the motion-preservation metric of Baherwani, Ren and Shrivastava,
/// <i>Timestep-Constrained One-Shot Video Motion Customization</i>, section 3.3: "We use the Lucas-Kanade method for
/// optical flow estimation, and calculate the average cosine similarity between the normalized vectors of all frames."
/// <para>
/// Definition. Both videos have F ≥ 2 frames of the same H x W. For each consecutive frame pair t → t + 1 of each video,
/// pyramidal Lucas-Kanade (<see cref="LucasKanade.Grid"/>: grayscale frames, OpenCV <c>calcOpticalFlowPyrLK</c>) tracks
/// the same regular grid of points (spacing s, default 8 px), giving displacements u (first video) and v (second). Per
/// point, s(u, v) is
/// </para>
/// <list type="bullet">
/// <item>u · v / (|u| |v|), the cosine of the normalised vectors, when both move (|u|, |v| ≥ ε, default ε = 0.1 px);</item>
/// <item>1 when neither moves (|u|, |v| &lt; ε): both videos agree that the point is still, and a video compared with
/// itself must score 1; the direction of a sub-ε vector is tracker noise, so its cosine would be a random number;</item>
/// <item>0 when exactly one moves: motion against stillness has no direction to agree with, which is the neutral
/// value between agreement (1) and opposite motion (−1).</item>
/// </list>
/// <para>
/// Points the tracker lost in either video (textureless window or left the image: status 0) are left out, since they
/// carry no flow. A pair's score is the mean of s over its remaining points; the metric is the mean over the pairs
/// that have any (each pair weighs the same). It is 1 for identical motion, about −1 for the reversed motion, and
/// independent of colour and of the speed of motion along the same directions.
/// </para>
/// </summary>
public static class OpticalFlowSimilarity
{
    /// <summary>Similarity of the motion in two videos of (F, H, W, 3) RGB frames (<c>uint8</c>, or float in [0, 1]), same shape.</summary>
    public static OpticalFlowSimilarityResult Compute(Tensor first, Tensor second, OpticalFlowSimilarityOptions? options = null)
    {
        options ??= new();
        if (!first.shape.SequenceEqual(second.shape))
            throw new ArgumentException(
                $"optical-flow similarity compares videos of one shape (F, H, W, 3); got [{string.Join(", ", first.shape)}] and [{string.Join(", ", second.shape)}]. " +
                $"Read both with the same {nameof(VideoReadOptions)} frame count and size.");
        using var a = LucasKanade.Grid(first, options.GridSpacing, options.LucasKanade);
        using var b = LucasKanade.Grid(second, options.GridSpacing, options.LucasKanade);
        return Compare(a, b, options.StaticThreshold);
    }

    /// <summary>Similarity of the motion in two clips (see <see cref="Compute(Tensor, Tensor, OpticalFlowSimilarityOptions?)"/>).</summary>
    public static OpticalFlowSimilarityResult Compute(VideoClip first, VideoClip second, OpticalFlowSimilarityOptions? options = null) =>
        Compute(first.Frames, second.Frames, options);

    /// <summary>Similarity of two grid flows already computed on the same grid (see the class remarks for the rule).</summary>
    public static OpticalFlowSimilarityResult Compare(GridFlow first, GridFlow second, double staticThreshold = 0.1)
    {
        if (!first.Flow.shape.SequenceEqual(second.Flow.shape) || first.Spacing != second.Spacing)
            throw new ArgumentException($"grid flows differ: [{string.Join(", ", first.Flow.shape)}] every {first.Spacing} px vs [{string.Join(", ", second.Flow.shape)}] every {second.Spacing} px.");
        if (!(staticThreshold >= 0)) throw new ArgumentOutOfRangeException(nameof(staticThreshold), staticThreshold, "must not be negative.");
        using var scope = NewDisposeScope();
        var u = first.Flow.to(ScalarType.Float64);
        var v = second.Flow.to(ScalarType.Float64);
        var lengthU = u.norm(-1);
        var lengthV = v.norm(-1);
        var stillU = lengthU.lt(staticThreshold);
        var stillV = lengthV.lt(staticThreshold);
        var cosine = (u * v).sum(-1) / (lengthU * lengthV).clamp_min(1e-30);
        var similarity = where(stillU.logical_and(stillV), 1.0, where(stillU.logical_or(stillV), 0.0, cosine));
        var valid = first.Valid.logical_and(second.Valid);
        var counts = valid.sum(1).to(ScalarType.Float64);
        var pairs = (similarity * valid).sum(1) / counts; // NaN for a pair without valid points
        var pairScores = pairs.data<double>().ToArray();
        var scored = pairScores.Where(s => !double.IsNaN(s)).ToArray();
        double score = scored.Length > 0 ? scored.Average() : double.NaN;
        if (scored.Length == 0) Log.Warning("optical-flow similarity: no grid point was tracked in both videos; the score is NaN.");
        double validFraction = valid.to(ScalarType.Float64).mean().item<double>();
        return new OpticalFlowSimilarityResult(score, pairScores, validFraction, (int)first.Flow.shape[1]);
    }
}
