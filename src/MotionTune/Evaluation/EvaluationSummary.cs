using System.Globalization;
using System.Text;
using MotionTune.IO;
using MotionTune.Probe;

namespace MotionTune.Evaluation;

/// <summary>One row of the summary: the means of one model setting over one group of samples.</summary>
/// <param name="Model">The base model.</param>
/// <param name="Variant">The customization variant ("" for the default).</param>
/// <param name="Tau">The threshold τ.</param>
/// <param name="PromptKind">The edit kind, or <see cref="EvaluationSummary.AllKinds"/> for all prompts together.</param>
/// <param name="Samples">How many samples (video × prompt × seed) the row averages.</param>
/// <param name="Videos">How many distinct videos they come from.</param>
/// <param name="Metrics">Per metric name, the mean and standard error over the samples that have it.</param>
public sealed record SummaryRow(
    string Model, string Variant, int Tau, string PromptKind, int Samples, int Videos, IReadOnlyDictionary<string, SampleStatistics> Metrics);

/// <summary>
/// The evaluation in the shape of the paper's Table 1 (per base model and τ: Text Align., Temp. Const., Pick Score)
/// and Table 2 (one row per method), plus the same per edit kind. Each number is the mean over samples (every video,
/// edit prompt and seed counts once) of the per-sample metric, which is itself a mean over the sample's frames
/// (section 4.1: "average the scores over frames and samples"). Extra metrics of the records get columns of their own.
/// </summary>
public sealed class EvaluationSummary
{
    /// <summary>The <see cref="SummaryRow.PromptKind"/> of rows over all prompts.</summary>
    public const string AllKinds = "all";

    /// <summary>The metric columns: the standard three that any record has, then the extra names in ordinal order.</summary>
    public IReadOnlyList<string> MetricNames { get; }

    /// <summary>Rows by model, variant, τ descending (as the paper lists them), then all kinds first and each kind in CSV order.</summary>
    public IReadOnlyList<SummaryRow> Rows { get; }

    private EvaluationSummary(IReadOnlyList<string> metricNames, IReadOnlyList<SummaryRow> rows)
    {
        MetricNames = metricNames;
        Rows = rows;
    }

    /// <summary>The rows over all prompt kinds (Table 1).</summary>
    public IReadOnlyList<SummaryRow> Overall => Rows.Where(r => r.PromptKind == AllKinds).ToArray();

    /// <summary>Averages <paramref name="records"/>.</summary>
    /// <exception cref="ArgumentException">No records, or a sample twice (merge shards with <see cref="ShardMerge"/> first).</exception>
    public static EvaluationSummary From(IEnumerable<EvaluationRecord> records)
    {
        var list = records.Select(r => r.Validate()).ToArray();
        if (list.Length == 0) throw new ArgumentException("no evaluation records to summarise.", nameof(records));
        var twice = list.GroupBy(r => r.Key).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new ArgumentException($"sample {twice.Key} appears {twice.Count()} times; merge shard files with ShardMerge first.", nameof(records));

        var present = list.SelectMany(r => r.Metrics.Select(m => m.Key)).ToHashSet(StringComparer.Ordinal);
        var names = Evaluation.MetricNames.Standard.Where(present.Contains)
            .Concat(present.Except(Evaluation.MetricNames.Standard).Order(StringComparer.Ordinal)).ToArray();

        var rows = new List<SummaryRow>();
        var settings = list.GroupBy(r => (r.Model, r.Variant, r.Tau))
            .OrderBy(g => g.Key.Model, StringComparer.Ordinal).ThenBy(g => g.Key.Variant, StringComparer.Ordinal).ThenByDescending(g => g.Key.Tau);
        foreach (var setting in settings)
        {
            rows.Add(Row(setting.Key, AllKinds, setting.ToArray(), names));
            foreach (var kind in setting.GroupBy(r => r.PromptKind).OrderBy(g => ShardMerge.KindOrder(g.Key)).ThenBy(g => g.Key, StringComparer.Ordinal))
                rows.Add(Row(setting.Key, kind.Key, kind.ToArray(), names));
        }
        return new EvaluationSummary(names, rows);
    }

    private static SummaryRow Row((string Model, string Variant, int Tau) setting, string kind, EvaluationRecord[] samples, string[] names)
    {
        var metrics = names.ToDictionary(n => n, n => SampleStatistics.Of(samples.Select(s => Value(s, n))));
        return new SummaryRow(setting.Model, setting.Variant, setting.Tau, kind, samples.Length,
            samples.Select(s => s.Video).Distinct().Count(), metrics);
    }

    private static double Value(EvaluationRecord record, string name) => name switch
    {
        Evaluation.MetricNames.TextAlignment => record.TextAlignment ?? double.NaN,
        Evaluation.MetricNames.TemporalConsistency => record.TemporalConsistency ?? double.NaN,
        Evaluation.MetricNames.PickScore => record.PickScore ?? double.NaN,
        _ => record.Extra.TryGetValue(name, out var v) ? v : double.NaN,
    };

    /// <summary>
    /// Markdown: the overall table in the layout of the paper's Table 1 (the model named on its first row; the best
    /// value of each standard metric per model in bold, higher being better for all three), then the same per edit kind.
    /// </summary>
    public string ToMarkdown()
    {
        var text = new StringBuilder();
        bool variants = Rows.Any(r => r.Variant.Length > 0);
        text.Append("| Base Model |").Append(variants ? " Variant |" : "").Append(" τ |");
        foreach (var n in MetricNames) text.Append(' ').Append(Cell(Evaluation.MetricNames.Heading(n))).Append(" |");
        text.Append(" Samples |\n|---|").Append(variants ? "---|" : "").Append("---:|");
        foreach (var _ in MetricNames) text.Append("---:|");
        text.Append("---:|\n");
        string? lastModel = null;
        foreach (var row in Overall)
        {
            var peers = Overall.Where(r => r.Model == row.Model).ToArray();
            text.Append("| ").Append(row.Model == lastModel ? "" : Cell(row.Model)).Append(" |");
            if (variants) text.Append(' ').Append(Cell(row.Variant)).Append(" |");
            text.Append(' ').Append(row.Tau.ToString(CultureInfo.InvariantCulture)).Append(" |");
            foreach (var n in MetricNames) text.Append(' ').Append(Value(row, n, peers)).Append(" |");
            text.Append(' ').Append(row.Samples.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
            lastModel = row.Model;
        }

        var byKind = Rows.Where(r => r.PromptKind != AllKinds).ToArray();
        if (byKind.Length > 0)
        {
            text.Append("\nPer edit kind:\n\n| Base Model |").Append(variants ? " Variant |" : "").Append(" τ | Edit |");
            foreach (var n in MetricNames) text.Append(' ').Append(Cell(Evaluation.MetricNames.Heading(n))).Append(" |");
            text.Append(" Samples |\n|---|").Append(variants ? "---|" : "").Append("---:|---|");
            foreach (var _ in MetricNames) text.Append("---:|");
            text.Append("---:|\n");
            foreach (var row in byKind)
            {
                text.Append("| ").Append(Cell(row.Model)).Append(" |");
                if (variants) text.Append(' ').Append(Cell(row.Variant)).Append(" |");
                text.Append(' ').Append(row.Tau.ToString(CultureInfo.InvariantCulture)).Append(" | ").Append(Cell(EditKinds.Label(row.PromptKind))).Append(" |");
                foreach (var n in MetricNames) text.Append(' ').Append(Format(n, row.Metrics[n].Mean)).Append(" |");
                text.Append(' ').Append(row.Samples.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// Markdown in the layout of the paper's Table 2: one row per setting ("Latte (τ = 700)"; filter the records to the
    /// settings to compare), the best value of each standard metric over all rows in bold.
    /// </summary>
    public string ToComparisonMarkdown()
    {
        var text = new StringBuilder("| Method |");
        foreach (var n in MetricNames) text.Append(' ').Append(Cell(Evaluation.MetricNames.Heading(n))).Append(" |");
        text.Append(" Samples |\n|---|");
        foreach (var _ in MetricNames) text.Append("---:|");
        text.Append("---:|\n");
        var rows = Overall.ToArray();
        foreach (var row in rows)
        {
            var method = $"{row.Model}{(row.Variant.Length > 0 ? $" [{row.Variant}]" : "")} (τ = {row.Tau.ToString(CultureInfo.InvariantCulture)})";
            text.Append("| ").Append(Cell(method)).Append(" |");
            foreach (var n in MetricNames) text.Append(' ').Append(Value(row, n, rows)).Append(" |");
            text.Append(' ').Append(row.Samples.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
        }
        return text.ToString();
    }

    private static string Value(SummaryRow row, string name, SummaryRow[] peers)
    {
        var value = Format(name, row.Metrics[name].Mean);
        if (!Evaluation.MetricNames.Standard.Contains(name) || peers.Length < 2 || !double.IsFinite(row.Metrics[name].Mean)) return value;
        var best = peers.Select(p => Math.Round(p.Metrics[name].Mean, 2)).Where(double.IsFinite).Max();
        return Math.Round(row.Metrics[name].Mean, 2) == best ? $"**{value}**" : value;
    }

    /// <summary>A metric's value as the tables print it: two decimals for the paper's ×100-scale metrics, three for others; "–" when absent.</summary>
    public static string Format(string name, double value) =>
        !double.IsFinite(value) ? "–"
        : value.ToString(Evaluation.MetricNames.Standard.Contains(name) ? "F2" : "F3", CultureInfo.InvariantCulture);

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\r", " ").Replace("\n", " ");

    /// <summary>Every row as CSV: model, variant, tau, prompt_kind, samples, videos, then mean, se and n per metric.</summary>
    public void WriteCsv(string path)
    {
        var header = new List<string> { "model", "variant", "tau", "prompt_kind", "samples", "videos" };
        foreach (var n in MetricNames) header.AddRange([$"{n}_mean", $"{n}_se", $"{n}_n"]);
        Csv.WriteFile(path, header, Rows.Select(r =>
        {
            var fields = new List<string>
            {
                r.Model, r.Variant, r.Tau.ToString(CultureInfo.InvariantCulture), r.PromptKind,
                r.Samples.ToString(CultureInfo.InvariantCulture), r.Videos.ToString(CultureInfo.InvariantCulture),
            };
            foreach (var n in MetricNames)
                fields.AddRange([Csv.Number(r.Metrics[n].Mean), Csv.Number(r.Metrics[n].StandardError), r.Metrics[n].Count.ToString(CultureInfo.InvariantCulture)]);
            return fields;
        }));
    }

    /// <summary>Writes <see cref="ToMarkdown"/> atomically.</summary>
    public void WriteMarkdown(string path) => AtomicFile.WriteAllText(path, ToMarkdown());
}
