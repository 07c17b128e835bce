using MotionTune.Tokenizers;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// A pool of rendered training clips kept on the training device, with their tokenized captions, refreshed a slice at a
/// time with new dataset items so that a long run sees far more distinct clips than the pool holds. Clips are
/// (F, H, W, 3) uint8 (28 KB each at 16 x 24 x 24), rendered on the device itself.
/// </summary>
internal sealed class TrainingClips : IDisposable
{
    private readonly ShapesDataset _dataset;
    private readonly RenderSettings _settings;
    private readonly TextTokenizer _tokenizer;
    private readonly int _maxLength;
    private readonly Device _device;
    private readonly Tensor _frames;
    private readonly Tensor _ids;
    private readonly Tensor _mask;
    private int _nextItem;
    private int _nextSlot;

    /// <summary>Clips in the pool.</summary>
    public int Count { get; }

    /// <summary>Distinct dataset items rendered so far.</summary>
    public int ItemsRendered => _nextItem;

    /// <summary>Renders the first <paramref name="count"/> training items of <paramref name="dataset"/> into a pool on <paramref name="device"/>.</summary>
    public TrainingClips(ShapesDataset dataset, RenderSettings settings, TextTokenizer tokenizer, int maxLength, int count, Device device)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "the pool needs at least one clip.");
        (_dataset, _settings, _tokenizer, _maxLength, _device, Count) = (dataset, settings, tokenizer, maxLength, device, count);
        _frames = empty([count, dataset.Frames, settings.Height, settings.Width, 3], ScalarType.Byte, device).DetachFromDisposeScope();
        _ids = empty([count, maxLength], ScalarType.Int64, device).DetachFromDisposeScope();
        _mask = empty([count, maxLength], ScalarType.Int64, device).DetachFromDisposeScope();
        const int chunk = 512;
        for (int start = 0; start < count; start += chunk) Refresh(Math.Min(chunk, count - start));
    }

    /// <summary>Replaces the next <paramref name="count"/> slots (cyclically) with the next unseen dataset items.</summary>
    public void Refresh(int count)
    {
        count = Math.Min(count, Count);
        using var scope = NewDisposeScope();
        var items = _dataset.Items(_nextItem, count);
        _nextItem += count;
        var (frames, captions) = _dataset.Render(items, _settings, _device);
        using var tokens = _tokenizer.Encode(captions, _maxLength);
        var slots = tensor(Enumerable.Range(0, count).Select(i => (long)((_nextSlot + i) % Count)).ToArray(), device: _device);
        _nextSlot = (_nextSlot + count) % Count;
        _frames.index_copy_(0, slots, frames);
        _ids.index_copy_(0, slots, tokens.InputIds.to(_device));
        _mask.index_copy_(0, slots, tokens.AttentionMask.to(_device));
    }

    /// <summary>
    /// A batch at pool indices <paramref name="indices"/>: clips as (B, 3, F, H, W) pixels in [-1, 1] (float32), with
    /// their caption ids and attention masks (B, L).
    /// </summary>
    public (Tensor Pixels, Tensor Ids, Tensor Mask) Batch(Tensor indices)
    {
        using var scope = NewDisposeScope();
        var pixels = _frames.index_select(0, indices).permute(0, 4, 1, 2, 3).to(ScalarType.Float32).div_(127.5).sub_(1.0);
        return (pixels.MoveToOuterDisposeScope(), _ids.index_select(0, indices).MoveToOuterDisposeScope(),
            _mask.index_select(0, indices).MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _frames.Dispose();
        _ids.Dispose();
        _mask.Dispose();
    }
}
