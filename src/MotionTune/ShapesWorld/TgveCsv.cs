using System.Text;
using MotionTune.IO;

namespace MotionTune.ShapesWorld;

/// <summary>The four edit prompts of a TGVE task, in the CSV's column order.</summary>
public enum EditKind
{
    /// <summary>Style change (in ShapesWorld: the object's colour).</summary>
    Style,
    /// <summary>Object change (the shape).</summary>
    Object,
    /// <summary>Background change.</summary>
    Background,
    /// <summary>Several changes at once.</summary>
    Multiple,
}

/// <summary>One row of a LOVEU-TGVE-2023 CSV: a video, its caption and its four edit prompts.</summary>
/// <param name="VideoName">The video's name (its frame folder or file name without extension).</param>
/// <param name="Caption">The ground-truth caption (column <c>Our GT caption</c>).</param>
/// <param name="StyleChange">Column <c>Style Change Caption</c>.</param>
/// <param name="ObjectChange">Column <c>Object Change Caption</c>.</param>
/// <param name="BackgroundChange">Column <c>Background Change Caption</c>.</param>
/// <param name="MultipleChanges">Column <c>Multiple Changes Caption</c>.</param>
public sealed record TgveRow(string VideoName, string Caption, string StyleChange, string ObjectChange, string BackgroundChange, string MultipleChanges)
{
    /// <summary>The edit prompt of one kind.</summary>
    public string Prompt(EditKind kind) => kind switch
    {
        EditKind.Style => StyleChange,
        EditKind.Object => ObjectChange,
        EditKind.Background => BackgroundChange,
        EditKind.Multiple => MultipleChanges,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>
/// Reads and writes task lists in the LOVEU-TGVE-2023 CSV layout (RFC 4180 quoting). Columns are found by header
/// name, so extra columns are allowed; rows without a video name or caption (the original file's section rows such as
/// "DAVIS_480p") are skipped.
/// </summary>
public static class TgveCsv
{
    /// <summary>The six columns, in the original file's order.</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["Video name", "Our GT caption", "Style Change Caption", "Object Change Caption", "Background Change Caption", "Multiple Changes Caption"];

    /// <summary>Writes <paramref name="rows"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IEnumerable<TgveRow> rows) => AtomicFile.WriteAllText(path, Format(rows));

    /// <summary>The CSV text of <paramref name="rows"/> (header first, CRLF line ends as RFC 4180 has them).</summary>
    public static string Format(IEnumerable<TgveRow> rows)
    {
        var sb = new StringBuilder();
        void Line(IEnumerable<string> fields) => sb.Append(string.Join(",", fields.Select(Quote))).Append("\r\n");
        Line(Columns);
        foreach (var r in rows) Line([r.VideoName, r.Caption, r.StyleChange, r.ObjectChange, r.BackgroundChange, r.MultipleChanges]);
        return sb.ToString();
    }

    /// <summary>Reads a TGVE CSV file.</summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="FormatException">A missing column or malformed quoting; the message names the file and line.</exception>
    public static IReadOnlyList<TgveRow> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"TGVE CSV not found: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses TGVE CSV text; <paramref name="sourceName"/> names it in errors.</summary>
    public static IReadOnlyList<TgveRow> Parse(string text, string sourceName = "<csv>")
    {
        var records = SplitRecords(text.TrimStart('\uFEFF'), sourceName);
        if (records.Count == 0) throw new FormatException($"{sourceName}: empty; expected a header with the columns {string.Join(", ", Columns)}.");
        var header = records[0].Fields.Select(f => f.Trim()).ToList();
        var index = Columns.Select(c => header.IndexOf(c)).ToArray();
        var missing = Columns.Where((c, i) => index[i] < 0).ToArray();
        if (missing.Length > 0)
            throw new FormatException($"{sourceName}:{records[0].Line}: missing column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} (found: {string.Join(", ", header.Select(h => $"'{h}'"))}).");

        var rows = new List<TgveRow>();
        foreach (var (line, fields) in records.Skip(1))
        {
            string Field(int column) => index[column] < fields.Count ? fields[index[column]].Trim() : "";
            if (Field(0).Length == 0 || Field(1).Length == 0) continue; // blank or section rows
            rows.Add(new TgveRow(Field(0), Field(1), Field(2), Field(3), Field(4), Field(5)));
            for (int c = 2; c < Columns.Count; c++)
                if (Field(c).Length == 0) throw new FormatException($"{sourceName}:{line}: video '{Field(0)}' has no '{Columns[c]}'.");
        }
        var repeated = rows.GroupBy(r => r.VideoName).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null) throw new FormatException($"{sourceName}: video '{repeated.Key}' appears {repeated.Count()} times.");
        return rows;
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\r', '\n']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";

    /// <summary>RFC 4180 records with the line each starts on; quoted fields may hold commas, quotes ("") and line breaks.</summary>
    private static List<(int Line, List<string> Fields)> SplitRecords(string text, string sourceName)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, quoteLine = 0, i = 0;
        bool quoted = false, any = false;
        while (i < text.Length)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                if (c == '"') quoted = false;
                else { if (c == '\n') line++; field.Append(c); }
                i++;
                continue;
            }
            switch (c)
            {
                case '"' when field.Length == 0:
                    quoted = true;
                    quoteLine = line;
                    any = true;
                    break;
                case '"':
                    throw new FormatException($"{sourceName}:{line}: a quote inside an unquoted field; quote the whole field and double the quote (\"\").");
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    any = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    if (any || field.Length > 0) { fields.Add(field.ToString()); records.Add((recordLine, fields)); }
                    fields = [];
                    field.Clear();
                    any = false;
                    line++;
                    recordLine = line;
                    break;
                default:
                    field.Append(c);
                    any = true;
                    break;
            }
            i++;
        }
        if (quoted) throw new FormatException($"{sourceName}:{quoteLine}: a quoted field is never closed.");
        if (any || field.Length > 0) { fields.Add(field.ToString()); records.Add((recordLine, fields)); }
        return records;
    }
}
