namespace MotionTune.Probe;

/// <summary>
/// One probe window: the edited caption c′ conditions the denoising steps with τ_end ≤ t ≤ τ_start, the source
/// caption c all others (paper section 3.2; the window's bounds are inclusive, as in the sampler's probe plan).
/// </summary>
/// <param name="TauStart">The window's noisier end τ_start.</param>
/// <param name="TauEnd">The window's cleaner end τ_end.</param>
public readonly record struct ProbeCell(int TauStart, int TauEnd)
{
    /// <summary>"τ_start→τ_end", e.g. "700→0".</summary>
    public override string ToString() => $"{TauStart}→{TauEnd}";
}

/// <summary>
/// The probe's grid of windows (paper section 3.3: "full combination of all valid (τ_start, τ_end) pairs with an
/// interval of 100 over the whole 1000 timesteps").
/// <para>
/// Decisions. Both bounds lie on the multiples of <see cref="Interval"/> in [0, <see cref="MaxTimestep"/>], and a valid
/// pair has τ_start &gt; τ_end, so every window is non-empty and spans at least one interval. τ_end = 0 is included:
/// the paper's Figure 1 uses (700, 0) and its analysis fixes τ_end = 0. τ_start = 1000 is included: the window
/// (1000, 0) applies c′ at every step, which is the paper's x′0 (Figure 1, row 2), the far end of the trade-off curve.
/// With the defaults that is τ_start ∈ {100, …, 1000}, τ_end ∈ {0, …, 900}: 10 + 9 + … + 1 = 55 windows.
/// </para>
/// </summary>
public sealed record ProbeGrid
{
    /// <summary>The paper's grid: interval 100 over [0, 1000].</summary>
    public static ProbeGrid Default { get; } = new();

    /// <summary>Spacing of the bounds in timesteps (the paper's 100).</summary>
    public int Interval { get; }

    /// <summary>The largest bound, the training timestep count T (1000 for all three of the paper's models).</summary>
    public int MaxTimestep { get; }

    /// <summary>Creates a grid; <paramref name="interval"/> must divide <paramref name="maxTimestep"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive value, or an interval that does not divide the range.</exception>
    public ProbeGrid(int interval = 100, int maxTimestep = 1000)
    {
        if (maxTimestep <= 0) throw new ArgumentOutOfRangeException(nameof(maxTimestep), maxTimestep, "the probe range must be positive.");
        if (interval <= 0 || interval > maxTimestep || maxTimestep % interval != 0)
            throw new ArgumentOutOfRangeException(nameof(interval), interval,
                $"the probe interval must be positive and divide the range [0, {maxTimestep}] (the paper uses 100 over 1000).");
        Interval = interval;
        MaxTimestep = maxTimestep;
    }

    /// <summary>The bounds 0, interval, …, max, ascending.</summary>
    public IReadOnlyList<int> Bounds => Enumerable.Range(0, MaxTimestep / Interval + 1).Select(k => k * Interval).ToArray();

    /// <summary>The τ_start values (interval … max), ascending.</summary>
    public IReadOnlyList<int> TauStarts => Bounds.Skip(1).ToArray();

    /// <summary>The τ_end values (0 … max − interval), ascending.</summary>
    public IReadOnlyList<int> TauEnds => Bounds.SkipLast(1).ToArray();

    /// <summary>Every valid window, by τ_start then τ_end, both ascending.</summary>
    public IReadOnlyList<ProbeCell> Cells =>
        TauStarts.SelectMany(start => TauEnds.Where(end => end < start).Select(end => new ProbeCell(start, end))).ToArray();

    /// <summary>Number of windows: n(n + 1)/2 for n = max / interval.</summary>
    public int CellCount => MaxTimestep / Interval * (MaxTimestep / Interval + 1) / 2;

    /// <summary>True when <paramref name="cell"/> is one of <see cref="Cells"/>.</summary>
    public bool Contains(ProbeCell cell) =>
        cell.TauEnd >= 0 && cell.TauStart <= MaxTimestep && cell.TauStart > cell.TauEnd
        && cell.TauStart % Interval == 0 && cell.TauEnd % Interval == 0;

    /// <summary>The windows with τ_end = 0 (the paper's trade-off curve), by τ_start ascending.</summary>
    public IReadOnlyList<ProbeCell> TradeOffRow => TauStarts.Select(start => new ProbeCell(start, 0)).ToArray();

    /// <inheritdoc />
    public override string ToString() => $"interval {Interval} over [0, {MaxTimestep}] ({CellCount} windows)";
}
