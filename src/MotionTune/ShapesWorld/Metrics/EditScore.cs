using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>All ShapesWorld metrics of one generated video against its prompt and the reference video.</summary>
/// <param name="Alignment">Appearance alignment with the prompt.</param>
/// <param name="Leakage">Appearance leakage from the reference.</param>
/// <param name="Fidelity">Motion fidelity to the reference's centroid path.</param>
/// <param name="Motion">The generated path's nearest library motion class.</param>
public sealed record EditScore(AttributeShares Alignment, Leakage Leakage, MotionFidelity Fidelity, MotionClassification Motion);

/// <summary>Scores generated videos of a customization task.</summary>
public static class EditScorer
{
    /// <summary>
    /// Scores <paramref name="generated"/> (F, H, W, 3) frames made for <paramref name="prompt"/> (a ShapesWorld caption)
    /// against the reference appearance and the reference's centroid path (read from the reference frames with
    /// <see cref="FrameReader"/>, or <see cref="MotionPath.Of"/> its trajectory).
    /// </summary>
    public static EditScore Score(Tensor generated, string prompt, Appearance reference, MotionPath referencePath)
    {
        var wanted = Captions.Parse(prompt).Appearance;
        var reading = FrameReader.Read(generated);
        var path = reading.Path;
        return new EditScore(
            AppearanceMetrics.Alignment(reading, wanted),
            AppearanceMetrics.Leakage(reading, wanted, reference),
            MotionMetrics.Fidelity(path, referencePath),
            MotionClassifier.Classify(path));
    }
}
