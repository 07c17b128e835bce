using System.Text.Json.Serialization;

namespace MotionTune.Evaluation;

/// <summary>What makes a sample unique: one model setting, one video, one prompt, one seed.</summary>
/// <param name="Model">The base model.</param>
/// <param name="Variant">The customization variant (empty for the default).</param>
/// <param name="Tau">The timestep threshold τ.</param>
/// <param name="Video">The reference video.</param>
/// <param name="PromptKind">The edit prompt's kind.</param>
/// <param name="Seed">The sampling seed.</param>
public readonly record struct SampleKey(string Model, string Variant, int Tau, string Video, string PromptKind, long Seed)
{
    /// <summary>A readable form for messages.</summary>
    public override string ToString() =>
        $"{Model}{(Variant.Length > 0 ? $" [{Variant}]" : "")} τ={Tau} video '{Video}' {PromptKind} seed {Seed}";
}

/// <summary>
/// One generated sample and its metrics: the evaluation runner customizes <see cref="Model"/> to the motion of
/// <see cref="Video"/> at threshold <see cref="Tau"/>, samples the edit prompt of kind <see cref="PromptKind"/> with
/// <see cref="Seed"/>, measures it, and appends this record as one line of a JSONL file (<see cref="EvaluationJsonl"/>).
/// <para>
/// The metrics, each averaged over the sample's frames (paper section 4.1): <see cref="TextAlignment"/> (CLIP score
/// against the prompt, 100 · cos), <see cref="TemporalConsistency"/> (mean cosine of consecutive frames' CLIP image
/// embeddings, ×100), <see cref="PickScore"/>. A metric that was not computed is null; other metrics (the ShapesWorld
/// appearance alignment and leakage, motion fidelity, flow similarity, ...) go in <see cref="Extra"/> by name.
/// <see cref="EvaluationSummary"/> averages records over samples into the paper's Tables 1 and 2.
/// </para>
/// </summary>
public sealed record EvaluationRecord
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The format version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The base model ("ModelScope", "Latte", "CogVideoX", or a folder name).</summary>
    public required string Model { get; init; }

    /// <summary>
    /// The customization variant when several are compared (the paper's Tables 4 and 5: "V, O", "r = 8", "all attentions");
    /// empty for the default setting.
    /// </summary>
    public string Variant { get; init; } = "";

    /// <summary>
    /// The threshold τ: the LoRA is trained and applied at t ≥ τ. 1000 (or the model's T) is the base model without
    /// tuning, 0 is tuning at every timestep (the baselines of Table 1).
    /// </summary>
    public required int Tau { get; init; }

    /// <summary>The reference video's name (TGVE "Video name").</summary>
    public required string Video { get; init; }

    /// <summary>The video's position in the dataset (<see cref="TgveEntry.Index"/>), for shard checks.</summary>
    public int VideoIndex { get; init; }

    /// <summary>The edit prompt's kind (<see cref="EditKinds"/>: style, object, background, multiple).</summary>
    public required string PromptKind { get; init; }

    /// <summary>The prompt the sample was generated from.</summary>
    public required string Prompt { get; init; }

    /// <summary>The sampling seed.</summary>
    public required long Seed { get; init; }

    /// <summary>CLIP text alignment of the sample with <see cref="Prompt"/> (mean over frames of 100 · cos).</summary>
    public double? TextAlignment { get; init; }

    /// <summary>Temporal consistency (mean cosine of consecutive frames' CLIP image embeddings, ×100).</summary>
    public double? TemporalConsistency { get; init; }

    /// <summary>PickScore of the sample with <see cref="Prompt"/>, averaged over frames.</summary>
    public double? PickScore { get; init; }

    /// <summary>Further metrics by name (snake_case by convention); NaN is written as null.</summary>
    public IReadOnlyDictionary<string, double> Extra { get; init; } = new Dictionary<string, double>();

    /// <summary>The generated video, relative to the JSONL file's folder (or absolute); null when not kept.</summary>
    public string? Output { get; init; }

    /// <summary>Seconds spent on this sample (sampling and metrics), for the record.</summary>
    public double? Seconds { get; init; }

    /// <summary>The sample's identity.</summary>
    [JsonIgnore]
    public SampleKey Key => new(Model, Variant, Tau, Video, PromptKind, Seed);

    /// <summary>The metric names the summary knows, with their values (standard three first, then <see cref="Extra"/>).</summary>
    [JsonIgnore]
    public IEnumerable<KeyValuePair<string, double>> Metrics
    {
        get
        {
            if (TextAlignment is double a) yield return new(MetricNames.TextAlignment, a);
            if (TemporalConsistency is double t) yield return new(MetricNames.TemporalConsistency, t);
            if (PickScore is double p) yield return new(MetricNames.PickScore, p);
            foreach (var e in Extra) yield return e;
        }
    }

    /// <summary>Problems that make the record unusable (empty names, a non-finite standard metric, a bad extra name).</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (FormatVersion != CurrentFormatVersion) problems.Add($"format version {FormatVersion}, expected {CurrentFormatVersion}");
        if (string.IsNullOrWhiteSpace(Model)) problems.Add("no model");
        if (string.IsNullOrWhiteSpace(Video)) problems.Add("no video");
        if (string.IsNullOrWhiteSpace(PromptKind)) problems.Add("no prompt kind");
        if (Prompt is null) problems.Add("no prompt");
        if (Variant is null) problems.Add("variant is null (use \"\")");
        if (Tau < 0) problems.Add($"negative tau {Tau}");
        foreach (var (name, value) in new[] { (MetricNames.TextAlignment, TextAlignment), (MetricNames.TemporalConsistency, TemporalConsistency), (MetricNames.PickScore, PickScore) })
            if (value is double v && !double.IsFinite(v)) problems.Add($"{name} is {v}; leave it null when not computed");
        foreach (var name in (Extra ?? new Dictionary<string, double>()).Keys)
            if (string.IsNullOrWhiteSpace(name) || MetricNames.Standard.Contains(name)) problems.Add($"extra metric name '{name}' is empty or shadows a standard metric");
        return problems;
    }

    /// <summary>Throws when <see cref="Problems"/> finds any.</summary>
    /// <exception cref="InvalidDataException">The record is unusable; the message says why.</exception>
    public EvaluationRecord Validate()
    {
        var problems = Problems();
        if (problems.Count > 0) throw new InvalidDataException($"evaluation record {Key}: {string.Join("; ", problems)}.");
        return this;
    }
}

/// <summary>Metric names as they appear in records, summaries and tables.</summary>
public static class MetricNames
{
    /// <summary>CLIP text alignment.</summary>
    public const string TextAlignment = "text_alignment";

    /// <summary>Temporal consistency.</summary>
    public const string TemporalConsistency = "temporal_consistency";

    /// <summary>PickScore.</summary>
    public const string PickScore = "pick_score";

    /// <summary>The paper's three metrics, in its tables' order.</summary>
    public static IReadOnlyList<string> Standard { get; } = [TextAlignment, TemporalConsistency, PickScore];

    /// <summary>Column headings as the paper writes them (Tables 1 and 2); other names as they are.</summary>
    public static string Heading(string name) => name switch
    {
        TextAlignment => "Text Align. ↑",
        TemporalConsistency => "Temp. Const. ↑",
        PickScore => "Pick Score ↑",
        _ => name,
    };
}
