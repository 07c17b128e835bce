using MotionTune.Models.Autoencoders;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>CogVideoX causal VAE through FromPretrained on the case folder: 9 frames → 3 latent frames (mean, log-variance) → 9 frames.</summary>
[ParityKind("autoencoder_kl_cogvideox")]
public sealed class CogVideoXVaeParity : IParityCheck
{
    private const double Tolerance = 1e-4;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var vae = AutoencoderKLCogVideoX.FromPretrained(fixture.Dir);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        using var posterior = vae.Encode(fixture.Io("x"));
        Check(fixture, output, "latent_mean", posterior.Mean);
        Check(fixture, output, "latent_logvar", posterior.LogVar);
        Check(fixture, output, "decoded", vae.Decode(fixture.Io("latent_mean")));
    }

    private static void Check(FixtureCase fixture, ITestOutputHelper output, string name, Tensor actual)
    {
        var expected = fixture.Io(name);
        output.WriteLine($"{fixture.Name} {name}: max abs error {ParityAssert.MaxAbsError(actual, expected):E3}");
        ParityAssert.Close(actual, expected, Tolerance, what: $"{fixture.Name} {name}");
    }
}
