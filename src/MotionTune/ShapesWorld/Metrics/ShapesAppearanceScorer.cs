using MotionTune.Metrics;
using MotionTune.Probe;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>
/// The probe's appearance score for ShapesWorld videos, exact where CLIP is approximate: the share of frames showing the
/// prompt's value of each attribute (<see cref="AppearanceMetrics.Alignment"/>), averaged over the attributes the edit
/// changes (<see cref="ForEdit"/>; all three without an edit), × 100. Only the edited attributes, because the probe asks
/// whether the edit took hold: the others were already right in the original video, and a model's weakness at one of
/// them would otherwise read as a failed edit. The prompt must be a
/// ShapesWorld caption; optical flow uses <see cref="EditScorer.FlowGridSpacing"/>.
/// </summary>
public sealed class ShapesAppearanceScorer : IAppearanceScorer
{
    private readonly (bool Colour, bool Shape, bool Background) _attributes = (true, true, true);

    /// <summary>A scorer over all three attributes.</summary>
    public ShapesAppearanceScorer() { }

    private ShapesAppearanceScorer((bool, bool, bool) attributes) => _attributes = attributes;

    /// <inheritdoc />
    public string Name => "shapesworld";

    /// <inheritdoc />
    /// <exception cref="FormatException">A caption that is not a ShapesWorld caption.</exception>
    public IAppearanceScorer ForEdit(string caption, string editedCaption)
    {
        var (from, to) = (Captions.Parse(caption).Appearance, Captions.Parse(editedCaption).Appearance);
        var changed = (from.Colour != to.Colour, from.Shape != to.Shape, from.Background != to.Background);
        return changed is (false, false, false) ? this : new ShapesAppearanceScorer(changed);
    }

    /// <inheritdoc />
    /// <exception cref="FormatException">The prompt is not a ShapesWorld caption.</exception>
    public double Score(Tensor frames, string prompt)
    {
        var wanted = Captions.Parse(prompt).Appearance;
        var shares = AppearanceMetrics.Alignment(FrameReader.Read(frames), wanted);
        var scored = new[] { (_attributes.Colour, shares.Colour), (_attributes.Shape, shares.Shape), (_attributes.Background, shares.Background) }
            .Where(a => a.Item1).Select(a => a.Item2).ToArray();
        return 100 * scored.Average();
    }

    /// <inheritdoc />
    public OpticalFlowSimilarityOptions FlowOptions(int height, int width) => new() { GridSpacing = EditScorer.FlowGridSpacing(height, width) };
}
