using MotionTune.Models.Unets;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// diffusers' UNet3DConditionModel loaded from the case folder: per-sample timesteps (<c>out</c>) and one scalar
/// timestep 500 for the whole batch (<c>out_t500</c>, given as a 0-dim tensor and as a number), to 1e-4 absolute.
/// </summary>
[ParityKind("unet3d_condition")]
public sealed class UNet3DConditionParity : IParityCheck
{
    private const double Tolerance = 1e-4;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var scope = NewDisposeScope();
        using var model = UNet3DConditionModel.FromPretrained(fixture.Dir);
        var sample = fixture.Io("sample");
        var text = fixture.Io("encoder_hidden_states");
        using var _ = no_grad();

        void Check(string what, Tensor actual, string expectedName)
        {
            var expected = fixture.Io(expectedName);
            output.WriteLine($"{fixture.Name} {what}: max abs error {ParityAssert.MaxAbsError(actual, expected):E3}");
            ParityAssert.Close(actual, expected, Tolerance, what: $"{fixture.Name} {what}");
        }

        Check("per-sample timesteps", model.forward(sample, fixture.Io("timestep"), text), "out");
        Check("scalar timestep tensor", model.forward(sample, tensor(500L), text), "out_t500");
        Check("scalar timestep number", model.forward(sample, 500.0, text), "out_t500");
    }
}
