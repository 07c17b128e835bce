namespace MotionTune.ShapesWorld;

/// <summary>How a keyframe segment's progress follows time (the CSS names; quadratic curves).</summary>
public enum Easing
{
    /// <summary>Constant speed.</summary>
    Linear,
    /// <summary>Starts slow and speeds up: u².</summary>
    EaseIn,
    /// <summary>Starts fast and slows down: 1 − (1 − u)².</summary>
    EaseOut,
    /// <summary>Slow at both ends: ease-in for the first half, ease-out for the second.</summary>
    EaseInOut,
}

/// <summary>Easing curves and their file names.</summary>
public static class Easings
{
    /// <summary>The names used in motion files, by value.</summary>
    public static readonly IReadOnlyDictionary<string, Easing> ByName = new Dictionary<string, Easing>
    {
        ["linear"] = Easing.Linear,
        ["ease-in"] = Easing.EaseIn,
        ["ease-out"] = Easing.EaseOut,
        ["ease-in-out"] = Easing.EaseInOut,
    };

    /// <summary>Progress in [0, 1] at segment time <paramref name="u"/> in [0, 1].</summary>
    public static double Apply(this Easing easing, double u) => easing switch
    {
        Easing.Linear => u,
        Easing.EaseIn => u * u,
        Easing.EaseOut => 1 - (1 - u) * (1 - u),
        Easing.EaseInOut => u < 0.5 ? 2 * u * u : 1 - 2 * (1 - u) * (1 - u),
        _ => throw new ArgumentOutOfRangeException(nameof(easing)),
    };
}
