using System.Globalization;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace MotionTune.IO;

/// <summary>
/// Writes a model's weights as diffusers and transformers do with <c>max_shard_size</c>: one
/// <c>{stem}.safetensors</c> when everything fits one shard, otherwise <c>{stem}-0000i-of-0000n.safetensors</c> files
/// plus <c>{stem}.safetensors.index.json</c> (<c>metadata.total_size</c> and the <c>weight_map</c> of tensor name to
/// shard), which <see cref="WeightSource.FromFolder"/> reads back.
/// </summary>
public static class ShardedSafeTensors
{
    /// <summary>
    /// Saves <paramref name="tensors"/> (in order) into <paramref name="folder"/>, starting a new shard whenever the next
    /// tensor would take the current one past <paramref name="maxShardBytes"/> (a tensor larger than that gets a shard
    /// of its own). Returns the files written, shards first.
    /// </summary>
    /// <exception cref="ArgumentException">No tensors, a non-positive shard size, or a duplicate name.</exception>
    public static IReadOnlyList<string> Save(string folder, string stem, IEnumerable<KeyValuePair<string, Tensor>> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (maxShardBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "must be positive.");
        var list = tensors.ToList();
        if (list.Count == 0) throw new ArgumentException("No tensors to save.", nameof(tensors));
        var duplicate = list.GroupBy(p => p.Key).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Tensor name '{duplicate.Key}' appears twice.", nameof(tensors));

        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long current = 0, total = 0;
        foreach (var pair in list)
        {
            long size = pair.Value.numel() * pair.Value.element_size();
            if (current > 0 && current + size > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(pair);
            current += size;
            total += size;
        }

        Directory.CreateDirectory(folder);
        if (shards.Count == 1)
        {
            var single = Path.Combine(folder, $"{stem}.safetensors");
            SafeTensors.Save(single, list, metadata);
            return [single];
        }

        var written = new List<string>();
        var weightMap = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"{stem}-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
            SafeTensors.Save(Path.Combine(folder, name), shards[i], metadata);
            written.Add(Path.Combine(folder, name));
            foreach (var (key, _) in shards[i]) weightMap[key] = name;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        var indexPath = Path.Combine(folder, $"{stem}.safetensors.index.json");
        AtomicFile.WriteAllText(indexPath, index.ToJsonString(ConfigFile.JsonOptions));
        written.Add(indexPath);
        return written;
    }
}
