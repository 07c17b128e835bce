using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>Tensor comparisons that report the error they saw.</summary>
public static class ParityAssert
{
    /// <summary>Fails unless |actual - expected| ≤ atol + rtol·|expected| everywhere; the message gives the worst element.</summary>
    public static void Close(Tensor actual, Tensor expected, double atol, double rtol = 0, string what = "")
    {
        Assert.True(actual.shape.SequenceEqual(expected.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}] != expected [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var a = actual.detach().to(ScalarType.Float64, CPU);
        var e = expected.detach().to(ScalarType.Float64, CPU);
        var diff = (a - e).abs();
        var allowed = atol + rtol * e.abs();
        var excess = diff - allowed;
        double maxAbs = diff.max().item<double>();
        double worst = excess.max().item<double>();
        Assert.True(worst <= 0 && !double.IsNaN(maxAbs),
            $"{what}: max abs error {maxAbs:E3} exceeds atol {atol:E1} + rtol {rtol:E1}·|expected| (worst excess {worst:E3}).");
    }

    /// <summary>Largest absolute difference, as a number to report.</summary>
    public static double MaxAbsError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        return (actual.detach().to(ScalarType.Float64, CPU) - expected.detach().to(ScalarType.Float64, CPU)).abs().max().item<double>();
    }
}
