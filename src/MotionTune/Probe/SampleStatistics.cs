namespace MotionTune.Probe;

/// <summary>Mean and standard error of a sample.</summary>
/// <param name="Mean">The mean of the finite values; NaN when there are none.</param>
/// <param name="StandardError">s / √n with s the sample standard deviation (n − 1 in its denominator); NaN when n &lt; 2.</param>
/// <param name="Count">n, the number of finite values (NaN values, such as an untrackable video's flow similarity, are left out).</param>
public sealed record SampleStatistics(double Mean, double StandardError, int Count)
{
    /// <summary>The statistics of the finite values in <paramref name="values"/>.</summary>
    public static SampleStatistics Of(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        int n = finite.Length;
        if (n == 0) return new(double.NaN, double.NaN, 0);
        double mean = finite.Average();
        if (n == 1) return new(mean, double.NaN, 1);
        double sumSquares = finite.Sum(v => (v - mean) * (v - mean));
        return new(mean, Math.Sqrt(sumSquares / (n - 1) / n), n);
    }
}
