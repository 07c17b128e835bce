using System.Globalization;

namespace MotionTune.Evaluation;

/// <summary>
/// One of <see cref="Count"/> shards of a dataset, for a cluster job array (<c>--shard i/n</c>). Shard i takes the
/// videos whose dataset index k (<see cref="TgveEntry.Index"/>) has k mod n = i: every video belongs to exactly one
/// shard, the shards' sizes differ by at most one, and the assignment depends only on the CSV, not on which machine
/// runs it or which videos are already done. Round robin rather than contiguous blocks also spreads the dataset's
/// sections (DAVIS, YouTube, Videvo clips of different lengths) over the shards. Shard numbers start at 0, as array
/// job indices usually do: <c>0/4</c> … <c>3/4</c>.
/// </summary>
/// <param name="Index">i, in [0, n).</param>
/// <param name="Count">n ≥ 1.</param>
public sealed record ShardSpec(int Index, int Count)
{
    /// <summary>The whole dataset as one shard.</summary>
    public static ShardSpec All { get; } = new(0, 1);

    /// <summary>True when the video with dataset index <paramref name="videoIndex"/> belongs to this shard.</summary>
    public bool Contains(int videoIndex) => videoIndex >= 0 && videoIndex % Count == Index;

    /// <summary>This shard's entries, in dataset order.</summary>
    public IReadOnlyList<TgveEntry> Select(IEnumerable<TgveEntry> entries) => entries.Where(e => Contains(e.Index)).ToArray();

    /// <summary>Parses "i/n" (0 ≤ i &lt; n).</summary>
    /// <exception cref="FormatException">Not of the form i/n, or i out of range.</exception>
    public static ShardSpec Parse(string text)
    {
        var parts = (text ?? "").Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int count))
            throw new FormatException($"--shard '{text}': expected i/n with whole numbers, e.g. 0/4 for the first of four shards.");
        if (count < 1) throw new FormatException($"--shard '{text}': the shard count must be at least 1.");
        if (index >= count)
            throw new FormatException($"--shard '{text}': shard numbers start at 0, so with {count} shard(s) i runs from 0 to {count - 1}.");
        return new ShardSpec(index, count);
    }

    /// <summary>"i/n".</summary>
    public override string ToString() => $"{Index}/{Count}";
}
