using System.Text.Json;
using System.Text.Json.Serialization;

namespace MotionTune.IO;

/// <summary>
/// Reads a config value that diffusers accepts either as one integer or as a list of integers
/// (e.g. <c>attention_head_dim: 64</c> or <c>[5, 10, 20, 20]</c>). One number becomes a one-element list;
/// a one-element list is written back as a number.
/// </summary>
public sealed class IntOrListConverter : JsonConverter<IReadOnlyList<int>>
{
    /// <inheritdoc />
    public override IReadOnlyList<int> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return [reader.GetInt32()];
            case JsonTokenType.StartArray:
                var values = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number)
                        throw new JsonException($"expected integers in the list, found {reader.TokenType}.");
                    values.Add(reader.GetInt32());
                }
                if (values.Count == 0) throw new JsonException("expected at least one integer, found an empty list.");
                return values;
            default:
                throw new JsonException($"expected an integer or a list of integers, found {reader.TokenType}.");
        }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IReadOnlyList<int> value, JsonSerializerOptions options)
    {
        if (value.Count == 1)
        {
            writer.WriteNumberValue(value[0]);
            return;
        }
        writer.WriteStartArray();
        foreach (var v in value) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
