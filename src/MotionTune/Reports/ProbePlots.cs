using System.Globalization;
using MotionTune.IO;
using MotionTune.Probe;
using ScottPlot;

namespace MotionTune.Reports;

/// <summary>The image files of one plot.</summary>
/// <param name="Png">The raster image.</param>
/// <param name="Svg">The vector image.</param>
public sealed record PlotFiles(string Png, string Svg);

/// <summary>
/// The probe's figures (the paper's Figure 2), each written as PNG and SVG: the two heatmaps over (τ_start, τ_end)
/// of the CLIP-score change and of the flow similarity, and the τ_end = 0 trade-off curve with the recommended τ.
/// Rendering is headless (ScottPlot on SkiaSharp); text uses the system's default sans-serif font via fontconfig.
/// </summary>
public static class ProbePlots
{
    /// <summary>Image width in pixels.</summary>
    public const int Width = 900;

    /// <summary>Image height in pixels.</summary>
    public const int Height = 720;

    /// <summary>Writes the CLIP-score-change heatmap as <c>{pathWithoutExtension}.png</c> and <c>.svg</c>.</summary>
    public static PlotFiles ClipScoreChangeHeatmap(ProbeSummary summary, string pathWithoutExtension) =>
        Heatmap(summary, c => c.ClipScoreChange.Mean, "F2",
            $"{Capitalised(summary.ScoreLabel)} change (x″0 vs c′ minus x0 vs c′)", $"{summary.ScoreLabel} change", pathWithoutExtension);

    private static string Capitalised(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>Writes the flow-similarity heatmap as <c>{pathWithoutExtension}.png</c> and <c>.svg</c>.</summary>
    public static PlotFiles FlowSimilarityHeatmap(ProbeSummary summary, string pathWithoutExtension) =>
        Heatmap(summary, c => c.FlowSimilarity.Mean, "F3",
            "Optical-flow similarity (x″0 vs reconstruction)", "flow similarity", pathWithoutExtension);

    /// <summary>
    /// Writes the τ_end = 0 trade-off curve: the mean CLIP-score change (left axis) and the mean flow similarity (right
    /// axis) against τ_start, each with ± one standard error, and the recommended τ marked.
    /// </summary>
    public static PlotFiles TradeOffCurve(ProbeSummary summary, string pathWithoutExtension)
    {
        var row = summary.TradeOffRow;
        using var plot = new Plot();
        Style(plot);
        var xs = row.Select(c => (double)c.TauStart).ToArray();

        var clipColor = Colors.C0;
        var flowColor = Colors.C1;
        AddSeries(plot, xs, row.Select(c => c.ClipScoreChange).ToArray(), clipColor, MarkerShape.FilledCircle,
            LinePattern.Solid, $"{summary.ScoreLabel} change", plot.Axes.Left);
        var right = plot.Axes.Right;
        // Solid lines only (colour and marker tell the series apart): SkiaSharp's SVG backend cannot write dash effects and
        // prints a warning to the console for each one.
        AddSeries(plot, xs, row.Select(c => c.FlowSimilarity).ToArray(), flowColor, MarkerShape.FilledSquare,
            LinePattern.Solid, "flow similarity", right);

        plot.Axes.Left.Label.Text = $"{summary.ScoreLabel} change (mean ± s.e.)";
        plot.Axes.Left.Label.ForeColor = clipColor;
        plot.Axes.Left.TickLabelStyle.ForeColor = clipColor;
        right.Label.Text = "flow similarity (mean ± s.e.)";
        right.Label.ForeColor = flowColor;
        right.TickLabelStyle.ForeColor = flowColor;
        right.Label.FontSize = plot.Axes.Left.Label.FontSize;

        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var t in summary.Grid.TauStarts) ticks.AddMajor(t, t.ToString(CultureInfo.InvariantCulture));
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Bottom.Label.Text = "τ_start (c′ used for t ≤ τ_start, with τ_end = 0)";
        plot.Axes.SetLimitsX(0, summary.MaxTimestep + summary.Interval / 2.0);

        var recommendation = summary.Recommendation;
        if (recommendation.Tau is int tau)
        {
            // Named in the legend rather than on the line, where a label would collide with the title.
            var line = plot.Add.VerticalLine(tau, 2, Colors.Gray, LinePattern.Solid);
            line.LegendText = $"recommended τ = {tau} (max of the normalised product below the top τ)";
        }
        plot.Title(Title("τ_end = 0 trade-off: editing vs motion preservation", summary));
        plot.ShowLegend(Edge.Bottom);
        return Save(plot, pathWithoutExtension);
    }

    private static void AddSeries(Plot plot, double[] xs, SampleStatistics[] stats, Color color, MarkerShape marker,
        LinePattern pattern, string legend, IYAxis yAxis)
    {
        // NaN means (no finite value at that τ) break nothing: they are simply not drawn.
        var keep = Enumerable.Range(0, xs.Length).Where(i => double.IsFinite(stats[i].Mean)).ToArray();
        var x = keep.Select(i => xs[i]).ToArray();
        var y = keep.Select(i => stats[i].Mean).ToArray();
        var scatter = plot.Add.Scatter(x, y, color);
        scatter.LegendText = legend;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 9;
        scatter.LineWidth = 2.5f;
        scatter.LinePattern = pattern;
        scatter.Axes.YAxis = yAxis;
        var withError = keep.Where(i => double.IsFinite(stats[i].StandardError)).ToArray();
        if (withError.Length > 0)
        {
            var bars = plot.Add.ErrorBar(
                withError.Select(i => xs[i]).ToArray(), withError.Select(i => stats[i].Mean).ToArray(),
                withError.Select(i => stats[i].StandardError).ToArray());
            bars.Color = color;
            bars.LineWidth = 1.5f;
            bars.Axes.YAxis = yAxis;
        }
    }

    private static PlotFiles Heatmap(ProbeSummary summary, Func<ProbeCellSummary, double> value, string format,
        string title, string colorBarLabel, string pathWithoutExtension)
    {
        var grid = summary.Grid;
        var starts = grid.TauStarts.Reverse().ToArray(); // top row: the noisiest τ_start
        var ends = grid.TauEnds;
        var data = new double[starts.Length, ends.Count];
        for (int r = 0; r < starts.Length; r++)
            for (int c = 0; c < ends.Count; c++)
                data[r, c] = summary.Find(new ProbeCell(starts[r], ends[c])) is { } cell ? value(cell) : double.NaN;

        using var plot = new Plot();
        Style(plot);
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.NaNCellColor = Colors.Transparent;
        // ScottPlot's extent names the centres of the corner cells: each cell is then centred on its (τ_end, τ_start).
        heatmap.Extent = new CoordinateRect(ends[0], ends[^1], grid.Interval, grid.MaxTimestep);
        double half = grid.Interval / 2.0;

        // Print each cell's value, in black on the light end of the colour map and white on the dark end.
        var finite = data.Cast<double>().Where(double.IsFinite).ToArray();
        double min = finite.Length > 0 ? finite.Min() : 0, max = finite.Length > 0 ? finite.Max() : 1;
        for (int r = 0; r < starts.Length; r++)
            for (int c = 0; c < ends.Count; c++)
            {
                if (!double.IsFinite(data[r, c]))
                {
                    // A window of the grid whose value could not be computed (no finite value from any video).
                    if (ends[c] < starts[r]) AddCellText(plot, "n/a", ends[c], starts[r], starts.Length, Colors.Gray);
                    continue;
                }
                double fraction = max > min ? (data[r, c] - min) / (max - min) : 0.5;
                AddCellText(plot, data[r, c].ToString(format, CultureInfo.InvariantCulture), ends[c], starts[r], starts.Length,
                    fraction > 0.6 ? Colors.Black : Colors.White);
            }

        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = colorBarLabel;
        colorBar.LabelStyle.FontSize = 15;

        plot.Axes.Bottom.TickGenerator = Ticks(ends);
        plot.Axes.Left.TickGenerator = Ticks(grid.TauStarts);
        plot.Axes.Bottom.Label.Text = "τ_end (c′ used down to this timestep)";
        plot.Axes.Left.Label.Text = "τ_start (c′ used from this timestep)";
        plot.Axes.SetLimits(-half, ends[^1] + half, grid.Interval - half, grid.MaxTimestep + half);
        plot.HideGrid();
        plot.Title(Title(title, summary));
        return Save(plot, pathWithoutExtension);
    }

    private static void AddCellText(Plot plot, string value, double x, double y, int rows, Color color)
    {
        var text = plot.Add.Text(value, x, y);
        text.Alignment = Alignment.MiddleCenter;
        text.LabelFontSize = rows > 12 ? 8 : 11;
        text.LabelFontColor = color;
        text.LabelFontName = FontFamily;
    }

    private static ScottPlot.TickGenerators.NumericManual Ticks(IEnumerable<int> values)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var v in values) ticks.AddMajor(v, v.ToString(CultureInfo.InvariantCulture));
        return ticks;
    }

    private static string Title(string what, ProbeSummary summary)
    {
        var model = summary.Model.Length > 0 ? $"{summary.Model}, " : "";
        return $"{what}\n{model}{summary.Videos.Count} video{(summary.Videos.Count == 1 ? "" : "s")}";
    }

    /// <summary>
    /// A sans-serif family installed here with the Greek τ; SkiaSharp's Linux font manager does not resolve the
    /// "sans-serif" alias, so known families are looked up by name, falling back to ScottPlot's default.
    /// </summary>
    internal static string FontFamily { get; } = PickFontFamily();

    private static string PickFontFamily()
    {
        var installed = SkiaSharp.SKFontManager.Default.GetFontFamilies().ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var family in new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" })
            if (installed.Contains(family)) return family;
        Log.Warning($"plots: no sans-serif font (DejaVu Sans, Liberation Sans, Noto Sans) is installed; using '{Fonts.Default}'. " +
                    "Install fonts-dejavu-core for the intended look.");
        return Fonts.Default;
    }

    private static void Style(Plot plot)
    {
        plot.Axes.Title.Label.FontSize = 17;
        plot.Axes.Bottom.Label.FontSize = 15;
        plot.Axes.Left.Label.FontSize = 15;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Axes.Right.TickLabelStyle.FontSize = 13;
    }

    /// <summary>Renders <paramref name="plot"/> to PNG and SVG beside each other, each written atomically.</summary>
    internal static PlotFiles Save(Plot plot, string pathWithoutExtension)
    {
        plot.Font.Set(FontFamily);
        var png = pathWithoutExtension + ".png";
        var svg = pathWithoutExtension + ".svg";
        AtomicFile.WriteAllBytes(png, plot.GetImageBytes(Width, Height, ImageFormat.Png));
        AtomicFile.WriteAllText(svg, plot.GetSvgXml(Width, Height));
        return new PlotFiles(png, svg);
    }
}
