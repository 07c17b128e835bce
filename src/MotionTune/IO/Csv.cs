using System.Globalization;
using System.Text;

namespace MotionTune.IO;

/// <summary>One record of a CSV file.</summary>
/// <param name="LineNumber">The 1-based line on which the record starts (a quoted field may span lines).</param>
/// <param name="Fields">The fields, unquoted.</param>
/// <param name="Error">Why the record is malformed (an unterminated quote), or null.</param>
public sealed record CsvRow(int LineNumber, IReadOnlyList<string> Fields, string? Error = null)
{
    /// <summary>True when every field is empty or white space (a blank line, or a line of commas).</summary>
    public bool IsBlank => Fields.All(string.IsNullOrWhiteSpace);

    /// <summary>The field at <paramref name="index"/>, or "" where the row is shorter.</summary>
    public string this[int index] => index < Fields.Count ? Fields[index] : "";
}

/// <summary>
/// RFC 4180 CSV: comma-separated fields, double-quoted where they hold commas, quotes or line breaks, a quote inside
/// quotes written twice. Reading accepts a UTF-8 byte order mark, CRLF or LF line ends, and a quoted field spanning
/// lines; writing quotes only what needs it and formats numbers with the invariant culture.
/// </summary>
public static class Csv
{
    /// <summary>Reads every record of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<CsvRow> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CSV file not found: {path}", path);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return Read(reader);
    }

    /// <summary>Reads every record of <paramref name="text"/> (a leading byte order mark is dropped).</summary>
    public static IReadOnlyList<CsvRow> Parse(string text) => Read(new StringReader(text));

    /// <summary>Reads every record from <paramref name="reader"/>. An unterminated quote makes the last record malformed.</summary>
    public static IReadOnlyList<CsvRow> Read(TextReader reader)
    {
        var rows = new List<CsvRow>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1;
        bool inQuotes = false, fieldWasQuoted = false, atStart = true, any = false;

        void EndField()
        {
            fields.Add(field.ToString());
            field.Clear();
            fieldWasQuoted = false;
        }
        void EndRecord()
        {
            EndField();
            rows.Add(new CsvRow(recordLine, fields.ToArray()));
            fields.Clear();
            any = false;
        }

        int c;
        while ((c = reader.Read()) >= 0)
        {
            if (atStart)
            {
                atStart = false;
                if (c == '\uFEFF') continue;
            }
            if (inQuotes)
            {
                if (c == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else inQuotes = false;
                }
                else
                {
                    if (c == '\n') line++;
                    field.Append((char)c);
                }
                continue;
            }
            switch (c)
            {
                case ',':
                    any = true;
                    EndField();
                    break;
                case '"' when field.Length == 0 && !fieldWasQuoted:
                    any = true;
                    inQuotes = true;
                    fieldWasQuoted = true;
                    break;
                case '\r':
                    if (reader.Peek() == '\n') reader.Read();
                    goto case '\n';
                case '\n':
                    if (any || field.Length > 0 || fields.Count > 0) EndRecord();
                    else rows.Add(new CsvRow(recordLine, [""]));
                    line++;
                    recordLine = line;
                    break;
                default:
                    // Text after a closing quote ("ab"c) is kept as written rather than rejected.
                    any = true;
                    field.Append((char)c);
                    break;
            }
        }
        if (inQuotes)
        {
            EndField();
            rows.Add(new CsvRow(recordLine, fields.ToArray(), $"a quoted field opened on line {recordLine} is never closed"));
        }
        else if (any || field.Length > 0 || fields.Count > 0) EndRecord();
        return rows;
    }

    /// <summary>Quotes <paramref name="field"/> where CSV needs it.</summary>
    public static string Escape(string field)
    {
        bool needs = field.Length > 0 && (field.AsSpan().IndexOfAny(",\"\r\n") >= 0 || char.IsWhiteSpace(field[0]) || char.IsWhiteSpace(field[^1]));
        return needs ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;
    }

    /// <summary>A record line (without its line end) of <paramref name="fields"/>.</summary>
    public static string Line(IEnumerable<string> fields) => string.Join(",", fields.Select(Escape));

    /// <summary>A number as CSV writes it: shortest round-trip form, invariant culture; NaN and null as an empty field.</summary>
    public static string Number(double? value) =>
        value is double v && double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>Parses a number written by <see cref="Number"/>: an empty field is NaN.</summary>
    /// <exception cref="FormatException">The field is not a number.</exception>
    public static double ParseNumber(string field, string where)
    {
        if (string.IsNullOrWhiteSpace(field)) return double.NaN;
        if (double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v;
        throw new FormatException($"{where}: '{field}' is not a number.");
    }

    /// <summary>Writes a header and rows atomically (<see cref="AtomicFile"/>), LF line ends, UTF-8 without a byte order mark.</summary>
    public static void WriteFile(string path, IEnumerable<string> header, IEnumerable<IEnumerable<string>> rows)
    {
        var text = new StringBuilder();
        text.Append(Line(header)).Append('\n');
        foreach (var row in rows) text.Append(Line(row)).Append('\n');
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
