using MotionTune.Models.Transformers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// diffusers' LatteTransformer3DModel through FromPretrained on the case folder: <c>out</c> with the temporal blocks,
/// <c>out_no_temporal</c> with <c>enable_temporal_attentions=False</c>; 1e-4 absolute.
/// </summary>
[ParityKind("latte_transformer_3d")]
public sealed class LatteParity : IParityCheck
{
    private const double Tolerance = 1e-4;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var model = LatteTransformer3DModel.FromPretrained(fixture.Dir);
        using var noGrad = no_grad();
        using var sample = fixture.Io("sample");
        using var timestep = fixture.Io("timestep");
        using var text = fixture.Io("encoder_hidden_states");

        var compared = 0;
        foreach (var (name, temporal) in new[] { ("out", true), ("out_no_temporal", false) })
        {
            if (!fixture.HasIo(name)) continue;
            using var expected = fixture.Io(name);
            using var actual = model.forward(sample, timestep, text, enableTemporalAttentions: temporal);
            output.WriteLine($"{fixture.Name}/{name}: max abs error {ParityAssert.MaxAbsError(actual, expected):E3}");
            ParityAssert.Close(actual, expected, Tolerance, what: $"{fixture.Name}/{name}");
            compared++;
        }
        Assert.True(compared == 2, $"{fixture.Name}: expected both 'out' and 'out_no_temporal' in io.safetensors, found {compared}.");
    }
}
