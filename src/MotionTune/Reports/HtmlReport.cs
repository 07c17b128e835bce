using System.Globalization;
using System.Net;
using System.Text;
using MotionTune.Evaluation;
using MotionTune.IO;
using MotionTune.Runtime;
using MotionTune.Video;

namespace MotionTune.Reports;

/// <summary>A figure of the report (a probe heatmap, the trade-off curve).</summary>
/// <param name="Path">The image file (PNG, SVG, GIF, JPEG).</param>
/// <param name="Caption">What it shows.</param>
public sealed record ReportFigure(string Path, string Caption);

/// <summary>One generated video with its metrics.</summary>
/// <param name="Label">What produced it ("Latte τ=700 seed 1").</param>
/// <param name="MediaPath">The video (mp4, webm, gif, a folder of frames) or null when it was not kept.</param>
/// <param name="Metrics">Its metrics by name.</param>
public sealed record ReportSample(string Label, string? MediaPath, IReadOnlyDictionary<string, double> Metrics);

/// <summary>The samples of one edit prompt.</summary>
/// <param name="Kind">The edit kind (<see cref="EditKinds"/>).</param>
/// <param name="Prompt">The prompt text.</param>
/// <param name="Samples">The samples, shown side by side.</param>
public sealed record ReportPrompt(string Kind, string Prompt, IReadOnlyList<ReportSample> Samples);

/// <summary>A reference video and what was generated from it.</summary>
/// <param name="Name">The video's name.</param>
/// <param name="Caption">Its caption.</param>
/// <param name="ReferencePath">The reference video, or null.</param>
/// <param name="Prompts">The edit prompts with their samples.</param>
public sealed record ReportVideo(string Name, string Caption, string? ReferencePath, IReadOnlyList<ReportPrompt> Prompts);

/// <summary>
/// A self-contained HTML report: one <c>.html</c> file with inline styles and no scripts, plus a media folder beside it
/// (<see cref="MediaFolderFor"/>) holding copies of every video and image it shows, so the pair can be moved or zipped.
/// It shows the summary table (<see cref="EvaluationSummary"/>), the probe's figures, and per reference video the
/// reference beside the generated samples of each edit prompt with their metrics. Videos play as looping muted
/// <c>&lt;video&gt;</c> (mp4, webm) or as images (gif); frame folders and other containers are converted to mp4 (this
/// needs libtorch and ffmpeg; a failure leaves a note in the page and a warning). All text is HTML-escaped. The page is
/// written atomically.
/// </summary>
public sealed class HtmlReport
{
    private static readonly string[] BrowserVideo = [".mp4", ".webm"];
    private static readonly string[] BrowserImage = [".gif", ".png", ".jpg", ".jpeg", ".svg", ".webp"];

    /// <summary>The page title.</summary>
    public string Title { get; init; } = "MotionTune report";

    /// <summary>Paragraphs under the title (settings, commands, where the data came from).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The summary table, or null.</summary>
    public EvaluationSummary? Summary { get; init; }

    /// <summary>Figures (probe heatmaps and trade-off curve); files that do not exist are left out with a warning.</summary>
    public IReadOnlyList<ReportFigure> Figures { get; init; } = [];

    /// <summary>The reference videos and their samples.</summary>
    public IReadOnlyList<ReportVideo> Videos { get; init; } = [];

    /// <summary>The media folder of the report <paramref name="htmlPath"/>: <c>{name}_media</c> beside it.</summary>
    public static string MediaFolderFor(string htmlPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(htmlPath))!, Path.GetFileNameWithoutExtension(htmlPath) + "_media");

    /// <summary>
    /// The report's videos from evaluation records: grouped by video (dataset order), edit kind and setting, with
    /// outputs resolved against <paramref name="recordsFolder"/> and each video's caption and reference taken from
    /// <paramref name="dataset"/> where it has the video.
    /// </summary>
    public static IReadOnlyList<ReportVideo> VideosFrom(IEnumerable<EvaluationRecord> records, string recordsFolder, TgveDataset? dataset = null) =>
        records
            .GroupBy(r => r.Video)
            .OrderBy(g => g.Min(r => r.VideoIndex)).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(video =>
            {
                var entry = dataset?.Find(video.Key);
                var prompts = video
                    .GroupBy(r => (r.PromptKind, r.Prompt))
                    .OrderBy(g => ShardMerge.KindOrder(g.Key.PromptKind)).ThenBy(g => g.Key.PromptKind, StringComparer.Ordinal)
                    .Select(kind => new ReportPrompt(kind.Key.PromptKind, kind.Key.Prompt, kind
                        .OrderBy(r => r.Model, StringComparer.Ordinal).ThenBy(r => r.Variant, StringComparer.Ordinal)
                        .ThenByDescending(r => r.Tau).ThenBy(r => r.Seed)
                        .Select(r => new ReportSample(
                            $"{r.Model}{(r.Variant.Length > 0 ? $" [{r.Variant}]" : "")} τ={r.Tau} seed {r.Seed}",
                            r.Output is { Length: > 0 } o ? Path.GetFullPath(o, Path.GetFullPath(recordsFolder)) : null,
                            r.Metrics.ToDictionary(m => m.Key, m => m.Value)))
                        .ToArray()))
                    .ToArray();
                return new ReportVideo(video.Key, entry?.Caption ?? "", entry?.VideoPath, prompts);
            })
            .ToArray();

    /// <summary>Copies the media into the media folder and writes the page; returns its path.</summary>
    public string Write(string htmlPath)
    {
        var media = new MediaFolder(MediaFolderFor(htmlPath));
        // Files the caller already wrote into the media folder keep their names; copies must not take them.
        media.Reserve(Figures.Select(f => f.Path)
            .Concat(Videos.Select(v => v.ReferencePath))
            .Concat(Videos.SelectMany(v => v.Prompts.SelectMany(p => p.Samples.Select(s => s.MediaPath))))
            .OfType<string>());
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(Text(Title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(Text(Title)).Append("</h1>\n");
        foreach (var note in Notes) html.Append("<p class=\"note\">").Append(Text(note)).Append("</p>\n");

        if (Summary is not null) AppendSummary(html, Summary);

        var figures = Figures.Where(f =>
        {
            if (File.Exists(f.Path)) return true;
            Log.Warning($"report: figure {f.Path} does not exist; left out.");
            return false;
        }).ToArray();
        if (figures.Length > 0)
        {
            html.Append("<h2>Timestep probe</h2>\n<div class=\"figures\">\n");
            foreach (var f in figures)
                html.Append("<figure><img src=\"").Append(Attribute(media.Add(f.Path))).Append("\" alt=\"").Append(Attribute(f.Caption))
                    .Append("\"><figcaption>").Append(Text(f.Caption)).Append("</figcaption></figure>\n");
            html.Append("</div>\n");
        }

        if (Videos.Count > 0)
        {
            html.Append("<h2>Samples</h2>\n");
            foreach (var video in Videos) AppendVideo(html, video, media);
        }
        html.Append("</body>\n</html>\n");
        AtomicFile.WriteAllText(htmlPath, html.ToString());
        return Path.GetFullPath(htmlPath);
    }

    private static void AppendSummary(StringBuilder html, EvaluationSummary summary)
    {
        html.Append("<h2>Summary</h2>\n");
        bool variants = summary.Rows.Any(r => r.Variant.Length > 0);
        void Table(IEnumerable<SummaryRow> rows, bool withKind)
        {
            html.Append("<table>\n<thead><tr><th>Base model</th>");
            if (variants) html.Append("<th>Variant</th>");
            html.Append("<th>τ</th>");
            if (withKind) html.Append("<th>Edit</th>");
            foreach (var n in summary.MetricNames) html.Append("<th>").Append(Text(MetricNames.Heading(n))).Append("</th>");
            html.Append("<th>Samples</th></tr></thead>\n<tbody>\n");
            foreach (var r in rows)
            {
                html.Append("<tr><td>").Append(Text(r.Model)).Append("</td>");
                if (variants) html.Append("<td>").Append(Text(r.Variant)).Append("</td>");
                html.Append("<td class=\"num\">").Append(r.Tau.ToString(CultureInfo.InvariantCulture)).Append("</td>");
                if (withKind) html.Append("<td>").Append(Text(EditKinds.Label(r.PromptKind))).Append("</td>");
                foreach (var n in summary.MetricNames)
                {
                    var s = r.Metrics[n];
                    html.Append("<td class=\"num\">").Append(Text(EvaluationSummary.Format(n, s.Mean)));
                    if (double.IsFinite(s.StandardError))
                        html.Append("<span class=\"se\"> ± ").Append(Text(EvaluationSummary.Format(n, s.StandardError))).Append("</span>");
                    html.Append("</td>");
                }
                html.Append("<td class=\"num\">").Append(r.Samples.ToString(CultureInfo.InvariantCulture)).Append("</td></tr>\n");
            }
            html.Append("</tbody>\n</table>\n");
        }
        Table(summary.Overall, withKind: false);
        var byKind = summary.Rows.Where(r => r.PromptKind != EvaluationSummary.AllKinds).ToArray();
        if (byKind.Length > 0)
        {
            html.Append("<details><summary>Per edit kind</summary>\n");
            Table(byKind, withKind: true);
            html.Append("</details>\n");
        }
        html.Append("<p class=\"note\">Means over samples (every video, edit prompt and seed once) of per-sample means over frames; ± one standard error.</p>\n");
    }

    private static void AppendVideo(StringBuilder html, ReportVideo video, MediaFolder media)
    {
        html.Append("<section class=\"video\">\n<h3>").Append(Text(video.Name)).Append("</h3>\n");
        html.Append("<div class=\"layout\">\n<figure class=\"reference\">").Append(Media(video.ReferencePath, video.Name, media))
            .Append("<figcaption><b>reference</b>");
        if (video.Caption.Length > 0) html.Append("<br>").Append(Text(video.Caption));
        html.Append("</figcaption></figure>\n<div class=\"prompts\">\n");
        foreach (var prompt in video.Prompts)
        {
            html.Append("<div class=\"prompt\">\n<p><b>").Append(Text(EditKinds.Label(prompt.Kind))).Append("</b>: ").Append(Text(prompt.Prompt)).Append("</p>\n<div class=\"samples\">\n");
            foreach (var sample in prompt.Samples)
            {
                html.Append("<figure>").Append(Media(sample.MediaPath, sample.Label, media)).Append("<figcaption>").Append(Text(sample.Label));
                if (sample.Metrics.Count > 0)
                {
                    html.Append("<table class=\"metrics\">");
                    foreach (var (name, value) in sample.Metrics)
                        html.Append("<tr><td>").Append(Text(MetricNames.Heading(name).TrimEnd(' ', '↑'))).Append("</td><td class=\"num\">")
                            .Append(Text(EvaluationSummary.Format(name, value))).Append("</td></tr>");
                    html.Append("</table>");
                }
                html.Append("</figcaption></figure>\n");
            }
            html.Append("</div>\n</div>\n");
        }
        html.Append("</div>\n</div>\n</section>\n");
    }

    private static string Media(string? path, string alt, MediaFolder media)
    {
        if (path is null) return "<div class=\"missing\">no video</div>";
        string? src;
        try { src = media.Add(path); }
        catch (Exception e) when (e is IOException or VideoFormatException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
        {
            Log.Warning($"report: cannot show {path}: {e.Message}");
            return $"<div class=\"missing\">cannot show {Text(Path.GetFileName(path))}: {Text(e.Message)}</div>";
        }
        var extension = Path.GetExtension(src).ToLowerInvariant();
        return BrowserVideo.Contains(extension)
            ? $"<video src=\"{Attribute(src)}\" autoplay loop muted playsinline controls title=\"{Attribute(alt)}\"></video>"
            : $"<img src=\"{Attribute(src)}\" alt=\"{Attribute(alt)}\">";
    }

    private static string Text(string text) => WebUtility.HtmlEncode(text);

    private static string Attribute(string text) => WebUtility.HtmlEncode(text);

    /// <summary>Copies files into the media folder once each, under unique names, and returns their relative URLs.</summary>
    private sealed class MediaFolder(string folder)
    {
        private readonly Dictionary<string, string> _copies = new(StringComparer.Ordinal);
        private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);

        public void Reserve(IEnumerable<string> paths)
        {
            foreach (var path in paths)
                if (Path.GetDirectoryName(Path.GetFullPath(path)) == folder) _names.Add(Path.GetFileName(path));
        }

        public string Add(string path)
        {
            var source = Path.GetFullPath(path);
            if (_copies.TryGetValue(source, out var known)) return known;
            bool isFolder = Directory.Exists(source);
            if (!isFolder && !File.Exists(source)) throw new FileNotFoundException($"{source} does not exist", source);
            var extension = isFolder ? "" : Path.GetExtension(source).ToLowerInvariant();
            bool playable = BrowserVideo.Contains(extension) || BrowserImage.Contains(extension);
            string name;
            if (playable && Path.GetDirectoryName(source) == folder)
            {
                name = Path.GetFileName(source); // already in the media folder (written there by the caller), reserved
            }
            else
            {
                name = UniqueName(Path.GetFileNameWithoutExtension(source.TrimEnd(Path.DirectorySeparatorChar)), playable ? extension : ".mp4");
                var target = Path.Combine(folder, name);
                Directory.CreateDirectory(folder);
                if (playable) AtomicFile.Write(target, s => { using var input = File.OpenRead(source); input.CopyTo(s); });
                else
                {
                    TorchRuntime.Initialize();
                    using var clip = VideoFile.Read(source);
                    VideoFile.Write(target, clip);
                }
            }
            var url = Uri.EscapeDataString(Path.GetFileName(folder)) + "/" + Uri.EscapeDataString(name);
            _copies[source] = url;
            return url;
        }

        private string UniqueName(string stem, string extension)
        {
            var safe = new string(stem.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray()).Trim('.');
            if (safe.Length == 0) safe = "media";
            var name = safe + extension;
            for (int i = 2; !_names.Add(name); i++) name = $"{safe}_{i}{extension}";
            return name;
        }
    }

    private const string Style = """

        body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px; color: #222; max-width: 1600px; }
        h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; } h3 { margin: 0.4em 0; }
        .note { color: #555; }
        table { border-collapse: collapse; margin: 0.6em 0; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; } th { background: #f3f3f3; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; } .se { color: #888; font-size: 0.85em; }
        .figures { display: flex; flex-wrap: wrap; gap: 16px; } .figures img { max-width: 560px; width: 100%; }
        figure { margin: 0; } figcaption { font-size: 0.85em; color: #444; margin-top: 4px; }
        section.video { border-top: 1px solid #ddd; padding: 12px 0; }
        .layout { display: flex; gap: 20px; align-items: flex-start; }
        .reference { flex: 0 0 260px; position: sticky; top: 8px; }
        .prompts { flex: 1; display: flex; flex-direction: column; gap: 10px; }
        .prompt p { margin: 0 0 4px 0; }
        .samples { display: flex; flex-wrap: wrap; gap: 12px; }
        .samples figure { width: 220px; }
        video, .samples img, .reference img { width: 100%; background: #000; display: block; }
        table.metrics { margin: 2px 0 0 0; font-size: 0.95em; } table.metrics td { border: none; padding: 0 6px 0 0; }
        .missing { width: 100%; aspect-ratio: 1; background: #eee; color: #777; display: flex; align-items: center; justify-content: center; font-size: 0.85em; text-align: center; }

        """;
}
