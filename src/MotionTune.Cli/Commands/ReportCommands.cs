using System.CommandLine;
using System.Globalization;
using MotionTune.Evaluation;
using MotionTune.Probe;
using MotionTune.Reports;
using Spectre.Console;

namespace MotionTune.Cli.Commands;

/// <summary>
/// The model-free steps of the probe and the evaluation, for after (or between) the GPU runs:
/// <c>probe report</c> turns a per-video results folder into tables, figures and the recommended τ;
/// <c>eval merge</c> combines shard JSONL files and checks them; <c>eval summarize</c> writes the Table 1/2-shaped
/// summary; <c>eval report</c> writes the HTML report. Each factory returns one subcommand, so the runners' own
/// <c>probe</c> and <c>eval</c> commands can take them in.
/// </summary>
public static class ReportCommands
{
    /// <summary><c>report</c> (under <c>probe</c>): aggregate a probe results folder and write its outputs.</summary>
    public static Command ProbeReport()
    {
        var results = new Option<string>("--results") { Description = "The probe's per-video results folder (*.probe.json).", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the tables, figures and recommended_tau.txt.", Required = true };
        var interval = new Option<int>("--interval") { Description = "The grid interval the results were measured on.", DefaultValueFactory = _ => 100 };
        var maxTimestep = new Option<int>("--max-timestep") { Description = "The grid's range [0, T].", DefaultValueFactory = _ => 1000 };
        var command = new Command("report", "Aggregate probe results over the videos: heatmaps, the tau_end = 0 trade-off curve, tables and the recommended tau.")
        {
            results, output, interval, maxTimestep,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(results)!;
            if (!Directory.Exists(folder))
            {
                AnsiConsole.MarkupLine($"[red]probe results folder not found: {Markup.Escape(folder)}[/]");
                return 1;
            }
            var store = new ProbeResultStore(folder, new ProbeGrid(parse.GetValue(interval), parse.GetValue(maxTimestep)));
            var (loaded, skipped) = store.LoadAll();
            foreach (var reason in skipped) AnsiConsole.MarkupLine($"[yellow]skipped:[/] {Markup.Escape(reason)}");
            if (loaded.Count == 0)
            {
                AnsiConsole.MarkupLine($"[red]no valid probe results in {Markup.Escape(store.Folder)}[/]");
                return 1;
            }
            var files = Reports.ProbeReport.Write(parse.GetValue(output)!, loaded);
            var tau = files.Summary.Recommendation.Tau?.ToString(CultureInfo.InvariantCulture) ?? "none";
            AnsiConsole.MarkupLine($"{loaded.Count} video(s); recommended τ = [bold]{tau}[/]");
            AnsiConsole.MarkupLine($"rule: {Markup.Escape(files.Summary.Recommendation.Rule)}");
            if (files.Summary.Recommendation.Note is { } note) AnsiConsole.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
            AnsiConsole.MarkupLine($"written to {Markup.Escape(Path.GetDirectoryName(files.SummaryJson)!)}");
            return 0;
        });
        return command;
    }

    /// <summary><c>merge</c> (under <c>eval</c>): combine shard JSONL files into one and check the union.</summary>
    public static Command EvalMerge()
    {
        var files = new Argument<string[]>("shards") { Description = "The shards' JSONL files.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "The merged JSONL file.", Required = true };
        var csv = new Option<string?>("--csv") { Description = "The TGVE CSV, to check that every video is present." };
        var videos = new Option<string?>("--videos") { Description = "The video folder (with --csv): only videos with a file are expected." };
        var kinds = new Option<string>("--kinds") { Description = "Prompt kinds expected per video, comma-separated.", DefaultValueFactory = _ => string.Join(",", EditKinds.All) };
        var seeds = new Option<string>("--seeds") { Description = "Seeds expected per prompt, comma-separated (e.g. 0,1,2,3); empty: only whole videos are checked.", DefaultValueFactory = _ => "" };
        var allowIncomplete = new Option<bool>("--allow-incomplete") { Description = "Write the merge even with duplicates (the last one is kept) or missing samples; exit 0." };
        var command = new Command("merge", "Merge the JSONL results of --shard runs, reporting duplicated samples and missing videos.")
        {
            files, output, csv, videos, kinds, seeds, allowIncomplete,
        };
        command.SetAction(parse =>
        {
            MergeExpectation? expectation = null;
            if (parse.GetValue(csv) is { } csvPath)
            {
                IReadOnlyList<string> expected = parse.GetValue(videos) is { } folder
                    ? TgveDataset.Load(csvPath, folder, new TgveLoadOptions { SkipMissingVideos = true }).Entries.Select(e => e.Video).ToArray()
                    : TgveDataset.ParseCsv(csvPath).Entries.Select(e => e.Video).ToArray();
                expectation = new MergeExpectation(expected, SplitList(parse.GetValue(kinds)!), ParseSeeds(parse.GetValue(seeds)!));
            }
            var result = ShardMerge.Merge(parse.GetValue(files)!, expectation);
            bool write = result.IsComplete || parse.GetValue(allowIncomplete);
            var message = Markup.Escape(result.Describe());
            AnsiConsole.MarkupLine(result.IsComplete ? message : $"[yellow]{message}[/]");
            if (!write)
            {
                AnsiConsole.MarkupLine("[red]not merged[/]: fix the shards or pass --allow-incomplete.");
                return 1;
            }
            ShardMerge.Write(parse.GetValue(output)!, result.Records);
            AnsiConsole.MarkupLine($"merged into {Markup.Escape(parse.GetValue(output)!)}");
            return 0;
        });
        return command;
    }

    /// <summary><c>summarize</c> (under <c>eval</c>): the Table 1/2-shaped summary of a results file.</summary>
    public static Command EvalSummarize()
    {
        var file = new Argument<string>("results") { Description = "A (merged) evaluation JSONL file." };
        var output = new Option<string>("--out") { Description = "Folder for summary.md and summary.csv.", Required = true };
        var command = new Command("summarize", "Average evaluation results per model, variant and tau (and per edit kind): Markdown and CSV.") { file, output };
        command.SetAction(parse =>
        {
            var records = EvaluationJsonl.Read(parse.GetValue(file)!).Select(r => r.Record).ToArray();
            var summary = EvaluationSummary.From(records);
            var folder = parse.GetValue(output)!;
            summary.WriteMarkdown(Path.Combine(folder, "summary.md"));
            summary.WriteCsv(Path.Combine(folder, "summary.csv"));
            Console.WriteLine(summary.ToMarkdown());
            return 0;
        });
        return command;
    }

    /// <summary><c>report</c> (under <c>eval</c>): the HTML report of a results file.</summary>
    public static Command EvalReport()
    {
        var file = new Argument<string>("results") { Description = "A (merged) evaluation JSONL file; sample outputs are relative to its folder." };
        var output = new Option<string>("--out") { Description = "The HTML file; its media go to <name>_media beside it.", Required = true };
        var csv = new Option<string?>("--csv") { Description = "The TGVE CSV, for captions and reference videos." };
        var videos = new Option<string?>("--videos") { Description = "The video folder (with --csv)." };
        var probe = new Option<string?>("--probe") { Description = "A folder written by 'probe report', whose figures to include." };
        var title = new Option<string>("--title") { Description = "The page title.", DefaultValueFactory = _ => "MotionTune evaluation" };
        var command = new Command("report", "Write an HTML report: summary table, probe figures, reference and generated videos side by side.")
        {
            file, output, csv, videos, probe, title,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var records = EvaluationJsonl.Read(path).Select(r => r.Record).ToArray();
            TgveDataset? dataset = null;
            if (parse.GetValue(csv) is { } csvPath)
            {
                var folder = parse.GetValue(videos) ?? throw new ArgumentException("--csv needs --videos, the folder of the reference videos.");
                dataset = TgveDataset.Load(csvPath, folder, new TgveLoadOptions { SkipMissingVideos = true, SkipMalformedRows = true });
            }
            var figures = new List<ReportFigure>();
            if (parse.GetValue(probe) is { } probeFolder)
            {
                figures.Add(new(Path.Combine(probeFolder, Reports.ProbeReport.ClipHeatmapName + ".png"), "CLIP-score change over (τ_start, τ_end)"));
                figures.Add(new(Path.Combine(probeFolder, Reports.ProbeReport.FlowHeatmapName + ".png"), "flow similarity over (τ_start, τ_end)"));
                figures.Add(new(Path.Combine(probeFolder, Reports.ProbeReport.TradeOffName + ".png"), "τ_end = 0 trade-off and the recommended τ"));
            }
            var report = new HtmlReport
            {
                Title = parse.GetValue(title)!,
                Notes = [$"{records.Length} samples from {Path.GetFullPath(path)}."],
                Summary = records.Length > 0 ? EvaluationSummary.From(records) : null,
                Figures = figures,
                Videos = HtmlReport.VideosFrom(records, Path.GetDirectoryName(Path.GetFullPath(path))!, dataset),
            };
            AnsiConsole.MarkupLine($"report: {Markup.Escape(report.Write(parse.GetValue(output)!))}");
            return 0;
        });
        return command;
    }

    private static string[] SplitList(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static long[] ParseSeeds(string text) =>
        SplitList(text).Select(s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new ArgumentException($"--seeds: '{s}' is not a whole number.")).ToArray();
}
