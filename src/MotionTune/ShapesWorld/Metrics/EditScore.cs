using MotionTune.Metrics;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>All ShapesWorld metrics of one generated video against its prompt and the reference video.</summary>
/// <param name="Alignment">Appearance alignment with the prompt.</param>
/// <param name="Leakage">Appearance leakage from the reference.</param>
/// <param name="Fidelity">Motion fidelity to the reference's centroid path.</param>
/// <param name="Motion">The generated path's nearest library motion class.</param>
/// <param name="FlowSimilarity">The paper's optical-flow similarity to the reference frames (<see cref="OpticalFlowSimilarity"/>), in [−1, 1]; null when no reference frames were given.</param>
public sealed record EditScore(AttributeShares Alignment, Leakage Leakage, MotionFidelity Fidelity, MotionClassification Motion, double? FlowSimilarity);

/// <summary>Scores generated videos of a customization task.</summary>
public static class EditScorer
{
    /// <summary>
    /// Scores <paramref name="generated"/> (F, H, W, 3) frames made for <paramref name="prompt"/> (a ShapesWorld caption)
    /// against the reference appearance and the reference's centroid path (read from the reference frames with
    /// <see cref="FrameReader"/>, or <see cref="MotionPath.Of"/> its trajectory). With <paramref name="referenceFrames"/>
    /// (same shape as the generated frames) it adds the paper's optical-flow similarity, on a grid of
    /// <see cref="FlowGridSpacing"/> pixels.
    /// </summary>
    public static EditScore Score(Tensor generated, string prompt, Appearance reference, MotionPath referencePath, Tensor? referenceFrames = null)
    {
        var wanted = Captions.Parse(prompt).Appearance;
        var reading = FrameReader.Read(generated);
        var path = reading.Path;
        double? flow = null;
        if (referenceFrames is not null)
        {
            var options = new OpticalFlowSimilarityOptions { GridSpacing = FlowGridSpacing((int)generated.shape[1], (int)generated.shape[2]) };
            flow = OpticalFlowSimilarity.Compute(referenceFrames, generated, options).Score;
        }
        return new EditScore(
            AppearanceMetrics.Alignment(reading, wanted),
            AppearanceMetrics.Leakage(reading, wanted, reference),
            MotionMetrics.Fidelity(path, referencePath),
            MotionClassifier.Classify(path),
            flow);
    }

    /// <summary>
    /// Grid spacing of the flow similarity for ShapesWorld frames: a twelfth of the shorter side, 2 to 8 pixels (the
    /// paper's 8 from 96 pixels on), so that a 24 x 24 frame still has 11 x 11 points and the small object is tracked.
    /// </summary>
    public static int FlowGridSpacing(int height, int width) => Math.Clamp(Math.Min(height, width) / 12, 2, GridFlow.DefaultSpacing);
}
