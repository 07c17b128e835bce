using MotionTune.Metrics;
using static TorchSharp.torch;

namespace MotionTune.Probe;

/// <summary>
/// The paper's appearance score (section 3.3): CLIP text alignment, the mean over frames of 100 · cos(image, text)
/// with CLIP ViT-L/14 (<see cref="ClipTextAlignment"/>). Text embeddings are computed once per prompt.
/// </summary>
public sealed class ClipAppearanceScorer(ClipMetricModel clip) : IAppearanceScorer, IDisposable
{
    private readonly Dictionary<string, Tensor> _texts = new(StringComparer.Ordinal);

    /// <summary>The CLIP model.</summary>
    public ClipMetricModel Clip { get; } = clip;

    /// <inheritdoc />
    public string Name => "clip";

    /// <inheritdoc />
    public double Score(Tensor frames, string prompt)
    {
        if (!_texts.TryGetValue(prompt, out var text))
            _texts[prompt] = text = Clip.TextEmbeddings([prompt]).DetachFromDisposeScope();
        using var images = Clip.ImageEmbeddings(frames);
        return ClipTextAlignment.FromEmbeddings(images, text).Mean;
    }

    /// <summary>Frees the cached text embeddings and the model.</summary>
    public void Dispose()
    {
        foreach (var t in _texts.Values) t.Dispose();
        _texts.Clear();
        Clip.Dispose();
    }
}
