using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>The models and settings of <see cref="VideoMetrics"/>.</summary>
public sealed record VideoMetricsOptions
{
    /// <summary>CLIP ViT-L/14 (<c>openai/clip-vit-large-patch14</c>): text alignment and temporal consistency.</summary>
    public required ClipMetricModelOptions Clip { get; init; }
    /// <summary>The PickScore model (<c>yuvalkirstain/PickScore_v1</c>); null: PickScore is not computed.</summary>
    public ClipMetricModelOptions? PickScore { get; init; }
    /// <summary>Which frame pairs temporal consistency averages over.</summary>
    public FramePairs TemporalPairs { get; init; } = FramePairs.Consecutive;
    /// <summary>Settings of the optical-flow similarity (computed when a reference video is given).</summary>
    public OpticalFlowSimilarityOptions OpticalFlow { get; init; } = new();
}

/// <summary>The metrics of one generated video (paper section 4.1, and 3.3 for the flow similarity).</summary>
/// <param name="Frames">Frames scored.</param>
/// <param name="TextAlignment">CLIP text alignment with the prompt (<see cref="ClipTextAlignment"/>), 100 · cos.</param>
/// <param name="TemporalConsistency">CLIP temporal consistency (<see cref="ClipTemporalConsistency"/>), 100 · cos.</param>
/// <param name="PickScore">PickScore with the prompt (<see cref="Metrics.PickScore"/>); null without a PickScore model.</param>
/// <param name="OpticalFlowSimilarity">Motion similarity to the reference video (<see cref="Metrics.OpticalFlowSimilarity"/>), in [−1, 1]; null without a reference.</param>
/// <param name="OpticalFlowValidFraction">Share of grid points tracked in both videos; null without a reference.</param>
public sealed record VideoMetricScores(int Frames, double TextAlignment, double TemporalConsistency, double? PickScore,
    double? OpticalFlowSimilarity, double? OpticalFlowValidFraction);

/// <summary>
/// Scores generated videos as the paper's tables do: CLIP text alignment and temporal consistency (one pass of CLIP
/// ViT-L/14's vision tower serves both), PickScore, and, given the reference video, the optical-flow similarity of the
/// motion. Holds the metric models; dispose it to free them.
/// </summary>
public sealed class VideoMetrics : IDisposable
{
    /// <summary>CLIP ViT-L/14.</summary>
    public ClipMetricModel Clip { get; }
    /// <summary>The PickScore model, if configured.</summary>
    public ClipMetricModel? PickScoreModel { get; }
    /// <summary>The settings.</summary>
    public VideoMetricsOptions Options { get; }

    /// <summary>Loads the metric models <paramref name="options"/> name.</summary>
    /// <exception cref="DirectoryNotFoundException">A model folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">A model folder lacks files.</exception>
    public VideoMetrics(VideoMetricsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Clip = ClipMetricModel.Load(options.Clip);
        try
        {
            PickScoreModel = options.PickScore is null ? null : ClipMetricModel.Load(options.PickScore);
        }
        catch
        {
            Clip.Dispose();
            throw;
        }
    }

    /// <summary>Loads CLIP (and PickScore, if a folder is given) from folders, on the CPU in float32.</summary>
    public static VideoMetrics FromFolders(string clipFolder, string? pickScoreFolder = null) => new(new VideoMetricsOptions
    {
        Clip = new ClipMetricModelOptions { Folder = clipFolder },
        PickScore = pickScoreFolder is null ? null : new ClipMetricModelOptions { Folder = pickScoreFolder },
    });

    /// <summary>Scores a clip against its prompt and, if given, the reference clip's motion.</summary>
    public VideoMetricScores Evaluate(VideoClip video, string prompt, VideoClip? reference = null) =>
        Evaluate(video.Frames, prompt, reference?.Frames);

    /// <summary>
    /// Scores (F, H, W, 3) uint8 frames (F ≥ 2) against <paramref name="prompt"/> and, if given, the motion of
    /// <paramref name="reference"/> frames of the same shape.
    /// </summary>
    /// <exception cref="ArgumentException">Not (F, H, W, 3) uint8 frames, fewer than 2, or a reference of another shape.</exception>
    public VideoMetricScores Evaluate(Tensor frames, string prompt, Tensor? reference = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ClipMetricModel.CheckFrames(frames, minimum: 2, "video metrics");
        if (reference is not null && !reference.shape.SequenceEqual(frames.shape))
            throw new ArgumentException(
                $"video metrics: the reference video [{string.Join(", ", reference.shape)}] and the video [{string.Join(", ", frames.shape)}] " +
                "must have the same frame count and size for the optical-flow similarity.", nameof(reference));

        FrameScores alignment, consistency;
        using (var images = Clip.ImageEmbeddings(frames))
        using (var text = Clip.TextEmbeddings([prompt]))
        {
            alignment = ClipTextAlignment.FromEmbeddings(images, text);
            consistency = ClipTemporalConsistency.FromEmbeddings(images, Options.TemporalPairs);
        }
        double? pick = PickScoreModel is null ? null : PickScore.Compute(PickScoreModel, frames, prompt).Mean;
        var flow = reference is null ? null : OpticalFlowSimilarity.Compute(reference, frames, Options.OpticalFlow);
        return new VideoMetricScores((int)frames.shape[0], alignment.Mean, consistency.Mean, pick, flow?.Score, flow?.ValidFraction);
    }

    /// <summary>Frees the models.</summary>
    public void Dispose()
    {
        Clip.Dispose();
        PickScoreModel?.Dispose();
    }
}
