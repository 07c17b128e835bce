using MotionTune.Models.Transformers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// CogVideoX transformer (sin-cos and rotary cases) through FromPretrained on the case folder; for the rotary case the
/// pipeline's tables are also rebuilt from the config and compared.
/// </summary>
[ParityKind("cogvideox_transformer_3d")]
public sealed class CogVideoXTransformerParity : IParityCheck
{
    private const double Tolerance = 1e-4;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var model = CogVideoXTransformer3DModel.FromPretrained(fixture.Dir);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hidden = fixture.Io("hidden_states");
        var text = fixture.Io("encoder_hidden_states");
        var timestep = fixture.Io("timestep");

        (Tensor Cos, Tensor Sin)? rotary = null;
        if (fixture.Case.GetProperty("rotary").GetBoolean())
        {
            Assert.True(model.Config.UseRotaryPositionalEmbeddings, $"{fixture.Name}: a rotary case should load a rotary model.");
            var cos = fixture.Io("rotary_cos");
            var sin = fixture.Io("rotary_sin");
            // The fixture's tables are for the latents' patch grid: pixels = latent size × the VAE's factor 8.
            var (ourCos, ourSin) = CogVideoXPositions.RotaryForPipeline(model.Config,
                height: (int)hidden.shape[3] * 8, width: (int)hidden.shape[4] * 8, latentFrames: (int)hidden.shape[1]);
            output.WriteLine($"{fixture.Name} rotary_cos: max abs error {ParityAssert.MaxAbsError(ourCos, cos):E3}");
            output.WriteLine($"{fixture.Name} rotary_sin: max abs error {ParityAssert.MaxAbsError(ourSin, sin):E3}");
            ParityAssert.Close(ourCos, cos, Tolerance, what: $"{fixture.Name} rotary_cos");
            ParityAssert.Close(ourSin, sin, Tolerance, what: $"{fixture.Name} rotary_sin");
            rotary = (cos, sin);
        }
        else
        {
            Assert.False(model.Config.UseRotaryPositionalEmbeddings, $"{fixture.Name}: a sin-cos case should load a sin-cos model.");
        }

        var result = model.forward(hidden, text, timestep, rotary);
        var expected = fixture.Io("out");
        output.WriteLine($"{fixture.Name} out: max abs error {ParityAssert.MaxAbsError(result, expected):E3}");
        ParityAssert.Close(result, expected, Tolerance, what: $"{fixture.Name} out");
    }
}
