using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MotionTune.IO;

/// <summary>
/// JSON settings for the result records (probe, evaluation): snake_case keys, enums as snake_case strings, and a
/// non-finite number (a metric that could not be computed) written as <c>null</c> and read back as NaN, since JSON
/// has no NaN and Python's <c>json</c> / pandas read <c>null</c> as a missing value.
/// </summary>
public static class RecordJson
{
    /// <summary>Indented, for single-record files.</summary>
    public static JsonSerializerOptions Indented { get; } = Create(indented: true);

    /// <summary>One line per record, for JSONL.</summary>
    public static JsonSerializerOptions Compact { get; } = Create(indented: false);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DictionaryKeyPolicy = null,
            WriteIndented = indented,
            // Captions are text, not HTML: keep quotes, apostrophes and non-ASCII letters readable in the files.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        };
        options.Converters.Add(new NanAsNullConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>Serialises <paramref name="value"/> to an indented JSON file atomically.</summary>
    public static void WriteFile<T>(string path, T value) =>
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, value, Indented));

    /// <summary>Reads a JSON file written by <see cref="WriteFile{T}"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, not JSON, or not of the expected shape.</exception>
    public static T ReadFile<T>(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"result file not found: {path}", path);
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<T>(stream, Indented) ?? throw new InvalidDataException($"{path}: the file holds JSON null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid {typeof(T).Name} JSON file ({e.Message})", e);
        }
    }

    /// <summary>Writes NaN and infinities as <c>null</c>; reads <c>null</c> as NaN.</summary>
    private sealed class NanAsNullConverter : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }
}
