namespace MotionTune.ShapesWorld.Metrics;

/// <summary>Shares of frames, per attribute, in [0, 1].</summary>
/// <param name="Colour">Share of frames whose object colour is the target's.</param>
/// <param name="Shape">Share of frames whose object shape is the target's.</param>
/// <param name="Background">Share of frames whose background is the target's.</param>
/// <param name="All">Share of frames where all three are.</param>
public sealed record AttributeShares(double Colour, double Shape, double Background, double All);

/// <summary>Appearance leakage from the reference, per attribute the prompt changed (null where it did not).</summary>
/// <param name="Colour">Share of frames showing the reference's colour, when the prompt asked for another one.</param>
/// <param name="Shape">Likewise for the shape.</param>
/// <param name="Background">Likewise for the background.</param>
/// <param name="Mean">Mean over the changed attributes; 0 when the prompt changed nothing.</param>
public sealed record Leakage(double? Colour, double? Shape, double? Background, double Mean);

/// <summary>
/// Appearance metrics of a generated video, from its <see cref="FrameReader"/> reading. A frame without an object
/// matches no colour or shape.
/// <list type="bullet">
/// <item>Alignment with a prompt: per attribute, the share of frames where the video shows the prompt's value; and
/// the share where all three match.</item>
/// <item>Leakage from the reference: for each attribute where the prompt differs from the reference, the share of
/// frames that show the reference's value instead; their mean is the video's leakage (0 when nothing was changed,
/// since then there is nothing to leak).</item>
/// </list>
/// </summary>
public static class AppearanceMetrics
{
    /// <summary>Alignment of <paramref name="video"/> with <paramref name="prompt"/>.</summary>
    public static AttributeShares Alignment(VideoReading video, Appearance prompt) => new(
        Share(video, f => f.Colour == prompt.Colour),
        Share(video, f => f.Shape == prompt.Shape),
        Share(video, f => f.Background == prompt.Background),
        Share(video, f => f.Colour == prompt.Colour && f.Shape == prompt.Shape && f.Background == prompt.Background));

    /// <summary>Leakage of <paramref name="reference"/>'s attributes into <paramref name="video"/>, made for <paramref name="prompt"/>.</summary>
    public static Leakage Leakage(VideoReading video, Appearance prompt, Appearance reference)
    {
        double? colour = prompt.Colour == reference.Colour ? null : Share(video, f => f.Colour == reference.Colour);
        double? shape = prompt.Shape == reference.Shape ? null : Share(video, f => f.Shape == reference.Shape);
        double? background = prompt.Background == reference.Background ? null : Share(video, f => f.Background == reference.Background);
        var changed = new[] { colour, shape, background }.Where(v => v is not null).Select(v => v!.Value).ToArray();
        return new Leakage(colour, shape, background, changed.Length == 0 ? 0 : changed.Average());
    }

    private static double Share(VideoReading video, Func<FrameReading, bool> match) =>
        video.Frames.Count == 0 ? 0 : video.Frames.Count(match) / (double)video.Frames.Count;
}
