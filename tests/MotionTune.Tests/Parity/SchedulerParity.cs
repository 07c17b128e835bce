using MotionTune.Schedulers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// <c>scheduler_*</c> cases: the scheduler loaded from the case's bare <c>scheduler_config.json</c> must reproduce
/// diffusers' <c>alphas_cumprod</c>, timesteps, the 25-step DDIM trajectory driven by the stored model outputs, the
/// inversion trajectory (<c>inverse_*</c>, DDIM configs), and <c>add_noise</c> / <c>get_velocity</c> at <c>noise_t</c>.
/// </summary>
/// <remarks>
/// Tolerance: 1e-5 relative per element, with an absolute floor of 1e-5 × the tensor's largest |value| for elements
/// that are nearly 0 (relative error means nothing there, e.g. ᾱ at t = 999 is exactly 0 under zero terminal SNR, and
/// trajectory entries that cross zero).
/// </remarks>
[ParityKind("scheduler")]
public sealed class SchedulerParity : IParityCheck
{
    private const double RelativeTolerance = 1e-5;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var scope = NewDisposeScope();
        var scheduler = DdimScheduler.FromPretrained(fixture.Dir);
        Assert.Equal(fixture.Case.GetProperty("class").GetString(), scheduler.Config.ClassName);
        int steps = fixture.Case.GetProperty("num_inference_steps").GetInt32();
        double eta = fixture.Case.GetProperty("eta").GetDouble();
        scheduler.SetTimesteps(steps);

        Compare(output, "alphas_cumprod", tensor(scheduler.AlphasCumprod.ToArray()), fixture.Io("alphas_cumprod"));

        var timesteps = fixture.Io("timesteps");
        Assert.Equal(timesteps.data<long>().ToArray(), scheduler.Timesteps);
        output.WriteLine($"timesteps: {steps} equal ({scheduler.Timesteps[0]} … {scheduler.Timesteps[^1]})");

        var expected = fixture.Io("trajectory");
        var sample = fixture.Io("x_init");
        for (int i = 0; i < steps; i++)
        {
            sample = scheduler.Step(fixture.Io($"model_output_{i}"), scheduler.Timesteps[i], sample, eta).PrevSample;
            Compare(output, $"trajectory[{i}]", sample, expected[i], quiet: i < steps - 1);
        }

        if (fixture.HasIo("inverse_trajectory"))
        {
            // The stored first inversion step starts from ᾱ = 1 even where set_alpha_to_one is false (ModelScope): the
            // fixture's DDIMInverseScheduler was built with set_alpha_to_one = true (case.json does not record the inverse's
            // own config), so build ours the same way. Every other value comes from the case's config.
            scheduler.InitialAlphaCumprod = 1.0;
            var inverseTimesteps = scheduler.InverseTimesteps;
            Assert.Equal(fixture.Io("inverse_timesteps").data<long>().ToArray(), inverseTimesteps);
            var expectedInverse = fixture.Io("inverse_trajectory");
            sample = fixture.Io("inverse_x_init");
            for (int i = 0; i < steps; i++)
            {
                sample = scheduler.InverseStep(fixture.Io($"inverse_model_output_{i}"), inverseTimesteps[i], sample).PrevSample;
                Compare(output, $"inverse_trajectory[{i}]", sample, expectedInverse[i], quiet: i < steps - 1);
            }
        }

        var x0 = fixture.Io("x0");
        var noise = fixture.Io("noise");
        var noiseT = fixture.Io("noise_t");
        for (int i = 0; i < noiseT.shape[0]; i++)
        {
            var t = noiseT[i..(i + 1)];
            long tValue = t.item<long>();
            Compare(output, $"add_noise(t={tValue})", scheduler.AddNoise(x0, noise, t), fixture.Io("add_noise")[i]);
            if (fixture.HasIo("velocity"))
                Compare(output, $"velocity(t={tValue})", scheduler.GetVelocity(x0, noise, t), fixture.Io("velocity")[i]);
        }
    }

    private static void Compare(ITestOutputHelper output, string what, Tensor actual, Tensor expected, bool quiet = false)
    {
        double floor = RelativeTolerance * expected.abs().max().to(ScalarType.Float64).item<double>();
        double maxAbs = ParityAssert.MaxAbsError(actual, expected);
        if (!quiet) output.WriteLine($"{what}: max abs error {maxAbs:E2}, {maxAbs / Math.Max(floor / RelativeTolerance, double.Epsilon):E2} of the largest |expected|");
        ParityAssert.Close(actual, expected, atol: floor, rtol: RelativeTolerance, what: what);
    }
}
