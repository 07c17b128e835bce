using System.Text;
using System.Text.Json;

namespace MotionTune.ShapesWorld;

/// <summary>
/// A parsed JSON file that remembers the line of every value, so that validation errors can say
/// "<c>file:line: keyframes[2].t: ...</c>". System.Text.Json's DOM keeps no positions, so one extra pass of
/// <see cref="Utf8JsonReader"/> maps each value's path to the line it starts on.
/// </summary>
internal sealed class JsonSource : IDisposable
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
    private readonly JsonDocument _document;
    private readonly Dictionary<string, int> _lines;

    private JsonSource(string name, JsonDocument document, Dictionary<string, int> lines)
    {
        Name = name;
        _document = document;
        _lines = lines;
    }

    /// <summary>The file name used in messages.</summary>
    public string Name { get; }

    /// <summary>The root value.</summary>
    public JsonElement Root => _document.RootElement;

    /// <summary>Parses <paramref name="utf8"/>; a syntax error becomes a <see cref="FormatException"/> naming the line.</summary>
    public static JsonSource Parse(string name, byte[] utf8)
    {
        try
        {
            var document = JsonDocument.Parse(utf8, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return new JsonSource(name, document, MapLines(utf8));
        }
        catch (JsonException e)
        {
            // The reader's message ends with its own "LineNumber: n | BytePositionInLine: m." (0-based); ours is 1-based.
            var message = e.Message;
            int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
            throw new FormatException($"{name}:{(e.LineNumber ?? 0) + 1}: invalid JSON: {message}", e);
        }
    }

    /// <summary>The 1-based line where the value at <paramref name="path"/> (<c>keyframes[2].t</c>; "" for the root) starts.</summary>
    public int Line(string path) => _lines.TryGetValue(path, out var line) ? line : 1;

    /// <summary>An error about the value at <paramref name="path"/>.</summary>
    public FormatException Error(string path, string message) =>
        new($"{Name}:{Line(path)}: {(path.Length == 0 ? "" : path + ": ")}{message}");

    /// <inheritdoc />
    public void Dispose() => _document.Dispose();

    private static Dictionary<string, int> MapLines(byte[] utf8)
    {
        var lineStarts = new List<long> { 0 };
        for (int i = 0; i < utf8.Length; i++) if (utf8[i] == (byte)'\n') lineStarts.Add(i + 1);
        int LineOf(long offset)
        {
            int index = lineStarts.BinarySearch(offset);
            return (index >= 0 ? index : ~index - 1) + 1;
        }

        var lines = new Dictionary<string, int>();
        var stack = new List<(bool IsArray, string Key, int Index)>();
        string PathOf()
        {
            var sb = new StringBuilder();
            foreach (var (isArray, key, index) in stack)
            {
                if (isArray) sb.Append('[').Append(index).Append(']');
                else sb.Append(sb.Length == 0 ? "" : ".").Append(key);
            }
            return sb.ToString();
        }

        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    stack[^1] = (false, reader.GetString()!, 0);
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    stack.RemoveAt(stack.Count - 1);
                    break;
                default: // a value: record where it starts, then descend into containers
                    if (stack.Count > 0 && stack[^1].IsArray) stack[^1] = (true, "", stack[^1].Index + 1);
                    lines.TryAdd(PathOf(), LineOf(reader.TokenStartIndex));
                    if (reader.TokenType == JsonTokenType.StartObject) stack.Add((false, "", 0));
                    else if (reader.TokenType == JsonTokenType.StartArray) stack.Add((true, "", -1));
                    break;
            }
        }
        return lines;
    }
}
