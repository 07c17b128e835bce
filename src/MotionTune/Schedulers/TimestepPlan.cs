using System.Collections;
using System.Globalization;

namespace MotionTune.Schedulers;

/// <summary>Which caption conditions a sampling step.</summary>
public enum PromptChoice
{
    /// <summary>
    /// The source caption c: the reference video's own caption in the probe, and the one prompt of plain and customized
    /// sampling.
    /// </summary>
    Source,
    /// <summary>The edited caption c′ (the probe's subject edit of c).</summary>
    Edited,
}

/// <summary>What one sampling step does.</summary>
/// <param name="Timestep">The step's timestep t (the model input's timestep; the step goes from t to t − T/n).</param>
/// <param name="Prompt">The caption used at this step.</param>
/// <param name="GuidanceScale">Classifier-free guidance scale; at most 1 means one conditional forward, no guidance.</param>
/// <param name="AdaptersActive">Whether the adapters (LoRA) are on at this step.</param>
public sealed record PlannedStep(long Timestep, PromptChoice Prompt, double GuidanceScale, bool AdaptersActive);

/// <summary>
/// A per-step schedule of prompt, guidance and adapters along the sampling timesteps (noisiest first). The paper's two
/// interventions are plans: the probe swaps c for c′ inside a timestep window (<see cref="Probe"/>), and customized
/// sampling turns the LoRA on only at the motion-dominant steps t ≥ τ (<see cref="Customized"/>).
/// </summary>
public sealed class TimestepPlan : IReadOnlyList<PlannedStep>
{
    private readonly PlannedStep[] _steps;

    /// <summary>Creates a plan from explicit steps.</summary>
    /// <exception cref="ArgumentException">No steps, timesteps not strictly decreasing or negative, or a non-finite or negative guidance scale.</exception>
    public TimestepPlan(IEnumerable<PlannedStep> steps)
    {
        _steps = steps.ToArray();
        if (_steps.Length == 0) throw new ArgumentException("A timestep plan needs at least one step.", nameof(steps));
        for (int i = 0; i < _steps.Length; i++)
        {
            var s = _steps[i];
            if (s.Timestep < 0) throw new ArgumentException($"Step {i}: timestep {s.Timestep} is negative.", nameof(steps));
            if (i > 0 && s.Timestep >= _steps[i - 1].Timestep)
                throw new ArgumentException(
                    $"Step {i}: timesteps must strictly decrease (noisiest first), but {s.Timestep} follows {_steps[i - 1].Timestep}.", nameof(steps));
            if (!double.IsFinite(s.GuidanceScale) || s.GuidanceScale < 0)
                throw new ArgumentException($"Step {i}: guidance scale {s.GuidanceScale} must be finite and non-negative.", nameof(steps));
        }
    }

    /// <summary>
    /// Plain sampling: the source prompt at every step, one guidance scale, adapters as <paramref name="adaptersActive"/>.
    /// </summary>
    public static TimestepPlan Plain(IReadOnlyList<long> timesteps, double guidanceScale, bool adaptersActive = false) =>
        new(timesteps.Select(t => new PlannedStep(t, PromptChoice.Source, guidanceScale, adaptersActive)));

    /// <summary>
    /// The paper's probe (section 3.2): denoise with c′_t = c′ when t ∈ [τ_start, τ_end] and c′_t = c otherwise. The
    /// paper writes the window from its noisier end, τ_start ≥ τ_end (e.g. τ_start = 700, τ_end = 0), and both bounds
    /// are inclusive: c′ is used exactly at the steps with τ_end ≤ t ≤ τ_start. τ_start = 1000, τ_end = 0 is c′ throughout.
    /// </summary>
    /// <exception cref="ArgumentException">τ_start &lt; τ_end, or a negative τ_end.</exception>
    public static TimestepPlan Probe(IReadOnlyList<long> timesteps, int tauStart, int tauEnd, double guidanceScale)
    {
        if (tauEnd < 0) throw new ArgumentException($"tau_end {tauEnd} must be non-negative.", nameof(tauEnd));
        if (tauStart < tauEnd)
            throw new ArgumentException(
                $"tau_start ({tauStart}) must be at least tau_end ({tauEnd}): the paper's window [tau_start, tau_end] starts at its noisier end.",
                nameof(tauStart));
        return new(timesteps.Select(t => new PlannedStep(
            t, t <= tauStart && t >= tauEnd ? PromptChoice.Edited : PromptChoice.Source, guidanceScale, AdaptersActive: false)));
    }

    /// <summary>
    /// Timestep-constrained customized sampling (section 4): the source prompt (the new prompt) throughout, with the
    /// adapters on exactly at the steps with t ≥ τ and the base model elsewhere. τ = 0 applies them at every step;
    /// τ = 1000 (or anything above the largest timestep) never does, which is the base model.
    /// </summary>
    /// <exception cref="ArgumentException">A negative τ.</exception>
    public static TimestepPlan Customized(IReadOnlyList<long> timesteps, int tau, double guidanceScale)
    {
        if (tau < 0) throw new ArgumentException($"tau {tau} must be non-negative.", nameof(tau));
        return new(timesteps.Select(t => new PlannedStep(t, PromptChoice.Source, guidanceScale, AdaptersActive: t >= tau)));
    }

    /// <summary>The timesteps, noisiest first.</summary>
    public IReadOnlyList<long> Timesteps => _steps.Select(s => s.Timestep).ToArray();

    /// <summary>True when some step uses the edited caption c′.</summary>
    public bool UsesEditedPrompt => _steps.Any(s => s.Prompt == PromptChoice.Edited);

    /// <summary>True when some step turns the adapters on.</summary>
    public bool UsesAdapters => _steps.Any(s => s.AdaptersActive);

    /// <summary>True when some step uses classifier-free guidance (scale above 1).</summary>
    public bool UsesGuidance => _steps.Any(s => s.GuidanceScale > 1);

    /// <inheritdoc />
    public int Count => _steps.Length;

    /// <inheritdoc />
    public PlannedStep this[int index] => _steps[index];

    /// <inheritdoc />
    public IEnumerator<PlannedStep> GetEnumerator() => ((IEnumerable<PlannedStep>)_steps).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// A one-line summary, e.g. <c>25 steps 961→1, guidance 9; c′ at 681→1; adapters at 961→721</c>.
    /// </summary>
    public override string ToString()
    {
        var parts = new List<string>();
        var scales = _steps.Select(s => s.GuidanceScale).Distinct().ToArray();
        string guidance = scales.Length == 1 ? scales[0].ToString(CultureInfo.InvariantCulture) : "per step";
        parts.Add($"{Count} steps {_steps[0].Timestep}→{_steps[^1].Timestep}, guidance {guidance}");
        if (UsesEditedPrompt) parts.Add($"c′ at {Ranges(s => s.Prompt == PromptChoice.Edited)}");
        if (UsesAdapters) parts.Add($"adapters at {Ranges(s => s.AdaptersActive)}");
        return string.Join("; ", parts);
    }

    // Maximal runs of consecutive steps that satisfy the predicate, as "first→last".
    private string Ranges(Func<PlannedStep, bool> predicate)
    {
        var runs = new List<string>();
        for (int i = 0; i < _steps.Length; i++)
        {
            if (!predicate(_steps[i])) continue;
            int j = i;
            while (j + 1 < _steps.Length && predicate(_steps[j + 1])) j++;
            runs.Add(i == j ? $"{_steps[i].Timestep}" : $"{_steps[i].Timestep}→{_steps[j].Timestep}");
            i = j;
        }
        return string.Join(", ", runs);
    }
}
