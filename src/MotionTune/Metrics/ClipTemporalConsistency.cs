using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>Which frame pairs temporal consistency averages over.</summary>
public enum FramePairs
{
    /// <summary>Consecutive frames (f, f + 1): F − 1 pairs, as the paper describes the metric.</summary>
    Consecutive,
    /// <summary>Every ordered pair f ≠ g: F (F − 1) pairs, as the LOVEU-TGVE 2023 script computes it.</summary>
    AllPairs,
}

/// <summary>
/// CLIP temporal consistency: how similar a video's frames are to their neighbours,
/// <code>TemporalConsistency = (1/(F−1)) Σ_{f=1}^{F−1} 100 · cos(E_img(frame_f), E_img(frame_{f+1}))</code>
/// with CLIP ViT-L/14's unit-length <c>get_image_features</c>; 100 for a still video.
/// <para>
/// Sources. Baherwani, Ren and Shrivastava, section 4.1: "We measure the average pairwise CLIP embedding distance
/// between consecutive frames"; their tables report it as higher-is-better in the 92–98 range, i.e. 100 × the cosine
/// similarity, not a distance. The LOVEU-TGVE 2023 script (<c>showlab/loveu-tgve-2023</c>, <c>scripts/run_eval.py</c>,
/// <c>clip_score_frame</c>, also ViT-L/14's <c>get_image_features</c>) averages the cosine over all ordered pairs
/// f ≠ g instead, and reports it unscaled; <see cref="FramePairs.AllPairs"/> gives that average (still × 100). The same
/// preprocessing notes as <see cref="ClipTextAlignment"/> apply.
/// </para>
/// </summary>
public static class ClipTemporalConsistency
{
    /// <summary>The score scale: 100 · cosine.</summary>
    public const double Scale = 100;

    /// <summary>Temporal consistency of (F, H, W, 3) uint8 frames, F ≥ 2; per-pair values included.</summary>
    /// <exception cref="ArgumentException">Not (F, H, W, 3) uint8 frames, or fewer than 2.</exception>
    public static FrameScores Compute(ClipMetricModel clip, Tensor frames, FramePairs pairs = FramePairs.Consecutive)
    {
        ArgumentNullException.ThrowIfNull(clip);
        ClipMetricModel.CheckFrames(frames, minimum: 2, "CLIP temporal consistency");
        using var images = clip.ImageEmbeddings(frames);
        return FromEmbeddings(images, pairs);
    }

    /// <summary>Temporal consistency of a clip's frames.</summary>
    public static FrameScores Compute(ClipMetricModel clip, VideoClip video, FramePairs pairs = FramePairs.Consecutive) =>
        Compute(clip, video.Frames, pairs);

    /// <summary>
    /// The score from unit-length image embeddings (F, D), F ≥ 2. Values are per pair: (f, f + 1) in order, or for
    /// <see cref="FramePairs.AllPairs"/> each f ≠ g row by row.
    /// </summary>
    public static FrameScores FromEmbeddings(Tensor imageEmbeddings, FramePairs pairs = FramePairs.Consecutive)
    {
        if (imageEmbeddings.dim() != 2 || imageEmbeddings.shape[0] < 2)
            throw new ArgumentException($"temporal consistency needs (F, D) embeddings of F ≥ 2 frames, got [{string.Join(", ", imageEmbeddings.shape)}].");
        using var scope = NewDisposeScope();
        var e = imageEmbeddings.to(ScalarType.Float32);
        long count = e.shape[0];
        Tensor cosines = pairs switch
        {
            FramePairs.Consecutive => (e.narrow(0, 0, count - 1) * e.narrow(0, 1, count - 1)).sum(-1),
            FramePairs.AllPairs => e.matmul(e.t()).masked_select(eye(count, dtype: ScalarType.Bool, device: e.device).logical_not()),
            _ => throw new ArgumentOutOfRangeException(nameof(pairs), pairs, null),
        };
        var values = cosines.to(ScalarType.Float64).cpu().data<double>().Select(c => Scale * c).ToArray();
        return FrameScores.Of(values);
    }
}
