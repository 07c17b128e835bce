using MotionTune.Metrics;
using static TorchSharp.torch;

namespace MotionTune.Probe;

/// <summary>
/// The probe's appearance score: how much a video looks like a caption. The paper uses the CLIP text alignment
/// (<see cref="ClipAppearanceScorer"/>); ShapesWorld's bundled models use its exact reading of the frames
/// (<c>ShapesWorld.Metrics.ShapesAppearanceScorer</c>). The probe records the change of this score against the score of
/// the original video, and the tau rule only uses the score's shape over the grid, so any scale works.
/// </summary>
public interface IAppearanceScorer
{
    /// <summary>A short name for the records ("clip", "shapesworld").</summary>
    string Name { get; }

    /// <summary>The score of (F, H, W, 3) uint8 <paramref name="frames"/> against <paramref name="prompt"/>.</summary>
    double Score(Tensor frames, string prompt);

    /// <summary>
    /// The scorer for one probed video, edited from <paramref name="caption"/> to <paramref name="editedCaption"/>; a scorer
    /// that can attend to what the edit changes returns a specialised copy (the default: this scorer).
    /// </summary>
    IAppearanceScorer ForEdit(string caption, string editedCaption) => this;

    /// <summary>The optical-flow settings that suit videos of this size (the probe's motion measure).</summary>
    OpticalFlowSimilarityOptions FlowOptions(int height, int width) => new();
}
