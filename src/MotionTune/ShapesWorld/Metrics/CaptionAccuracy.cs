using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>How well generated clips show what their captions say: the base models' quality gates.</summary>
/// <param name="Colour">Mean over clips of the share of frames with the caption's colour.</param>
/// <param name="Shape">Mean over clips of the share of frames with the caption's shape.</param>
/// <param name="Background">Mean over clips of the share of frames with the caption's background.</param>
/// <param name="Motion">Share of the clips whose caption names a library motion that are classified as that motion (NaN when no caption names one).</param>
/// <param name="Clips">Clips measured.</param>
public sealed record CaptionAccuracy(double Colour, double Shape, double Background, double Motion, int Clips)
{
    /// <summary>
    /// Measures clips generated from ShapesWorld captions: each (F, H, W, 3) frames with the caption it was made from.
    /// </summary>
    /// <exception cref="FormatException">A caption that is not a ShapesWorld caption.</exception>
    public static CaptionAccuracy Measure(IEnumerable<(Tensor Frames, string Caption)> clips)
    {
        double colour = 0, shape = 0, background = 0;
        int count = 0, withMotion = 0, motionRight = 0;
        foreach (var (frames, caption) in clips)
        {
            var content = Captions.Parse(caption);
            var reading = FrameReader.Read(frames);
            var shares = AppearanceMetrics.Alignment(reading, content.Appearance);
            colour += shares.Colour;
            shape += shares.Shape;
            background += shares.Background;
            count++;
            if (content.Motion is null) continue;
            withMotion++;
            if (MotionClassifier.Classify(reading.Path).Motion == content.Motion) motionRight++;
        }
        if (count == 0) throw new ArgumentException("No clips to measure.", nameof(clips));
        return new CaptionAccuracy(colour / count, shape / count, background / count,
            withMotion == 0 ? double.NaN : motionRight / (double)withMotion, count);
    }
}
