using MotionTune.Metrics;
using MotionTune.Probe;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>
/// The probe's appearance score for ShapesWorld videos, exact where CLIP is approximate: the mean over colour, shape and
/// background of the share of frames showing the prompt's value (<see cref="AppearanceMetrics.Alignment"/>), × 100. The
/// mean, not the share of frames matching all three, so that an edit of one attribute moves the score even where a model
/// does not draw another attribute well (like CLIP's similarity, which is also graded). The prompt must be a ShapesWorld
/// caption; optical flow uses <see cref="EditScorer.FlowGridSpacing"/>.
/// </summary>
public sealed class ShapesAppearanceScorer : IAppearanceScorer
{
    /// <inheritdoc />
    public string Name => "shapesworld";

    /// <inheritdoc />
    /// <exception cref="FormatException">The prompt is not a ShapesWorld caption.</exception>
    public double Score(Tensor frames, string prompt)
    {
        var wanted = Captions.Parse(prompt).Appearance;
        var shares = AppearanceMetrics.Alignment(FrameReader.Read(frames), wanted);
        return 100 * (shares.Colour + shares.Shape + shares.Background) / 3;
    }

    /// <inheritdoc />
    public OpticalFlowSimilarityOptions FlowOptions(int height, int width) => new() { GridSpacing = EditScorer.FlowGridSpacing(height, width) };
}
