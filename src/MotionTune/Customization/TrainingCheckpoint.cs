using System.Globalization;
using System.Text.Json;
using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// A resumable training state in one safetensors file: the trainable tensors (<c>trainable.{name}</c>), the AdamW state
/// (<c>adamw.*</c>), the loss of every step so far (<c>loss_history</c>, float32) and, as metadata, the step, the
/// method and the options that shape the trajectory. Nothing random is stored: each step's draws follow from
/// (seed, step) (<see cref="TrainingDraws"/>).
/// </summary>
public sealed class TrainingCheckpoint : IDisposable
{
    /// <summary>Metadata key of the checkpoint's description.</summary>
    public const string MetadataKey = "motiontune_checkpoint";
    private const string TrainablePrefix = "trainable.";
    private const string OptimizerPrefix = "adamw.";
    private const string LossKey = "loss_history";

    /// <summary>Steps done.</summary>
    public required int Step { get; init; }
    /// <summary><c>lora</c> or <c>full</c>.</summary>
    public required string Method { get; init; }
    /// <summary>The trajectory-shaping options (<see cref="CustomizationOptions.TrajectorySettings"/>).</summary>
    public required IReadOnlyDictionary<string, string> Settings { get; init; }
    /// <summary>Trainable tensors by name.</summary>
    public required IReadOnlyDictionary<string, Tensor> Trainable { get; init; }
    /// <summary>The optimizer state (<see cref="AdamW.StateDict"/>).</summary>
    public required IReadOnlyDictionary<string, Tensor> Optimizer { get; init; }
    /// <summary>The loss of steps 1 … <see cref="Step"/>.</summary>
    public required IReadOnlyList<float> Losses { get; init; }

    /// <summary>The file name of the checkpoint after <paramref name="step"/> steps in <paramref name="directory"/>.</summary>
    public static string PathFor(string directory, int step) => Path.Combine(directory, $"checkpoint-{step:D6}.safetensors");

    /// <summary>
    /// <paramref name="path"/> itself when it is a file; for a folder, its checkpoint with the most steps.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing to resume from.</exception>
    public static string Resolve(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path)) throw new FileNotFoundException($"--resume {path}: no such checkpoint file or folder.", path);
        return Directory.EnumerateFiles(path, "checkpoint-*.safetensors").Order(StringComparer.Ordinal).LastOrDefault()
            ?? throw new FileNotFoundException($"--resume {path}: the folder holds no checkpoint-*.safetensors.", path);
    }

    /// <summary>Writes the checkpoint atomically (a reader sees the previous file or the complete new one).</summary>
    public void Save(string path)
    {
        var description = new Dictionary<string, object>
        {
            ["step"] = Step,
            ["method"] = Method,
            ["settings"] = Settings,
        };
        var tensors = Trainable.Select(p => KeyValuePair.Create(TrainablePrefix + p.Key, p.Value))
            .Concat(Optimizer.Select(p => KeyValuePair.Create(OptimizerPrefix + p.Key, p.Value)))
            .Append(KeyValuePair.Create(LossKey, tensor(Losses.ToArray())));
        SafeTensors.Save(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "pt",
            [MetadataKey] = JsonSerializer.Serialize(description),
        });
    }

    /// <summary>Reads a checkpoint (tensors on the CPU).</summary>
    /// <exception cref="CheckpointFormatException">Not a MotionTune training checkpoint, or an inconsistent one.</exception>
    public static TrainingCheckpoint Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(MetadataKey, out var json))
            throw new CheckpointFormatException($"{path}: not a MotionTune training checkpoint (no '{MetadataKey}' metadata).");
        int step;
        string method;
        Dictionary<string, string> settings;
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            step = root.GetProperty("step").GetInt32();
            method = root.GetProperty("method").GetString() ?? "";
            settings = root.GetProperty("settings").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CheckpointFormatException($"{path}: unreadable '{MetadataKey}' metadata: {e.Message}", e);
        }
        if (!file.Entries.ContainsKey(LossKey)) throw new CheckpointFormatException($"{path}: no '{LossKey}' tensor.");
        var losses = file.Read(LossKey).to(ScalarType.Float32).data<float>().ToArray();
        if (losses.Length != step)
            throw new CheckpointFormatException($"{path}: {losses.Length} losses recorded for {step} steps.");
        Dictionary<string, Tensor> Group(string prefix) => file.Entries.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(k => k[prefix.Length..], k => file.Read(k));
        return new TrainingCheckpoint
        {
            Step = step, Method = method, Settings = settings, Losses = losses,
            Trainable = Group(TrainablePrefix), Optimizer = Group(OptimizerPrefix),
        };
    }

    /// <summary>
    /// Every way <paramref name="current"/> differs from the checkpoint's settings, as "--flag: checkpoint X, now Y".
    /// </summary>
    public IReadOnlyList<string> Differences(IReadOnlyDictionary<string, string> current) =>
        Settings.Keys.Union(current.Keys).Order(StringComparer.Ordinal)
            .Select(k => (k, Saved: Settings.GetValueOrDefault(k, "(unset)"), Now: current.GetValueOrDefault(k, "(unset)")))
            .Where(d => d.Saved != d.Now)
            .Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.k}: checkpoint {d.Saved}, now {d.Now}"))
            .ToList();

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Trainable.Values.Concat(Optimizer.Values)) t.Dispose();
    }
}
