using System.Text.Json;
using System.Text.Json.Serialization;

namespace MotionTune.IO;

/// <summary>
/// Base of typed model configs read from <c>config.json</c>. Property names map to the file's snake_case keys.
/// Keys the config does not know are kept in <see cref="ExtraKeys"/> and reported by <see cref="ConfigFile.Load{T}"/>.
/// </summary>
public abstract record ModelConfig
{
    /// <summary>Keys present in the file that no property of the config took.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtraKeys { get; set; }

    /// <summary>Keys that the reference libraries write but that do not change the model (e.g. <c>architectures</c>).</summary>
    [JsonIgnore]
    protected virtual IReadOnlyCollection<string> InertKeys => [];

    /// <summary>Unknown keys: extra keys that are neither metadata (<c>_class_name</c>, ...) nor known to be inert.</summary>
    public IReadOnlyList<string> UnknownKeys() =>
        (ExtraKeys?.Keys ?? Enumerable.Empty<string>())
        .Where(k => !k.StartsWith('_') && !InertKeys.Contains(k))
        .Order(StringComparer.Ordinal).ToList();
}

/// <summary>Reads and writes typed configs.</summary>
public static class ConfigFile
{
    /// <summary>The JSON conventions of diffusers and transformers config files.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Reads a config file. Unknown keys are reported through <paramref name="warn"/> (default: <see cref="Log.Warning"/>)
    /// rather than dropped silently.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid JSON for this config.</exception>
    public static T Load<T>(string path, Action<string>? warn = null) where T : ModelConfig
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Config not found: {path}", path);
        T? config;
        try
        {
            config = JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"{path}: not a valid {typeof(T).Name}: {e.Message}", e);
        }
        if (config is null) throw new CheckpointFormatException($"{path}: empty config.");
        var unknown = config.UnknownKeys();
        if (unknown.Count > 0)
            (warn ?? Log.Warning)($"{path}: keys {typeof(T).Name} does not use: {string.Join(", ", unknown)}");
        return config;
    }

    /// <summary>Parses a config from JSON text (no unknown-key report).</summary>
    public static T Parse<T>(string json) where T : ModelConfig =>
        JsonSerializer.Deserialize<T>(json, JsonOptions) ?? throw new CheckpointFormatException($"empty {typeof(T).Name}.");

    /// <summary>Writes a config atomically, with the class name diffusers expects.</summary>
    public static void Save<T>(T config, string path, string? className = null) where T : ModelConfig
    {
        var node = JsonSerializer.SerializeToNode(config, JsonOptions)!.AsObject();
        if (className is not null) node.Insert(0, "_class_name", className);
        AtomicFile.WriteAllText(path, node.ToJsonString(JsonOptions));
    }
}
