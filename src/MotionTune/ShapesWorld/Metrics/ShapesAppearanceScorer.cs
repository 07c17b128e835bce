using MotionTune.Metrics;
using MotionTune.Probe;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>
/// The probe's appearance score for ShapesWorld videos, exact where CLIP is approximate: the percentage of frames whose
/// object colour, shape and background are all the prompt's (<see cref="AppearanceMetrics.Alignment"/>, share of all
/// three × 100). The prompt must be a ShapesWorld caption; optical flow uses <see cref="EditScorer.FlowGridSpacing"/>.
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
        return 100 * AppearanceMetrics.Alignment(FrameReader.Read(frames), wanted).All;
    }

    /// <inheritdoc />
    public OpticalFlowSimilarityOptions FlowOptions(int height, int width) => new() { GridSpacing = EditScorer.FlowGridSpacing(height, width) };
}
