using static TorchSharp.torch;

namespace MotionTune.Tokenizers;

/// <summary>
/// Token ids of a batch of texts, padded or truncated to one length, and the mask telling real tokens (1) from
/// padding (0). Both tensors are int64, shape (batch, length), on the CPU.
/// </summary>
public sealed class TokenizedBatch : IDisposable
{
    /// <summary>Token ids, (batch, length).</summary>
    public Tensor InputIds { get; }
    /// <summary>1 for real tokens, 0 for padding, (batch, length).</summary>
    public Tensor AttentionMask { get; }
    /// <summary>The ids row by row, without padding.</summary>
    public IReadOnlyList<int[]> Ids { get; }

    /// <summary>Pads each row of <paramref name="ids"/> to <paramref name="length"/> with <paramref name="padId"/>.</summary>
    public TokenizedBatch(IReadOnlyList<int[]> ids, int length, int padId)
    {
        Ids = ids;
        var flat = new long[ids.Count * length];
        var mask = new long[ids.Count * length];
        for (int row = 0; row < ids.Count; row++)
        {
            if (ids[row].Length > length) throw new ArgumentException($"row {row} has {ids[row].Length} ids, more than the length {length}.");
            for (int i = 0; i < length; i++)
            {
                bool real = i < ids[row].Length;
                flat[row * length + i] = real ? ids[row][i] : padId;
                mask[row * length + i] = real ? 1 : 0;
            }
        }
        InputIds = tensor(flat, [ids.Count, length], ScalarType.Int64);
        AttentionMask = tensor(mask, [ids.Count, length], ScalarType.Int64);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
    }
}
