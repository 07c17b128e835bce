using MotionTune.Models.Autoencoders;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// diffusers' AutoencoderKL loaded from the case folder: posterior mean and log-variance of <c>x</c>, and the decode
/// of the mean, to 1e-4 absolute; then the same two images as a two-frame video through the sliced video helpers
/// (one frame per slice), whose latents must be the scaled means.
/// </summary>
[ParityKind("autoencoder_kl")]
public sealed class AutoencoderKLParity : IParityCheck
{
    private const double Tolerance = 1e-4;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var scope = NewDisposeScope();
        using var vae = AutoencoderKL.FromPretrained(fixture.Dir);
        using var _ = no_grad();
        var x = fixture.Io("x");
        var mean = fixture.Io("latent_mean");

        void Check(string what, Tensor actual, Tensor expected)
        {
            output.WriteLine($"{fixture.Name} {what}: max abs error {ParityAssert.MaxAbsError(actual, expected):E3}");
            ParityAssert.Close(actual, expected, Tolerance, what: $"{fixture.Name} {what}");
        }

        using (var posterior = vae.Encode(x))
        {
            Check("latent mean", posterior.Mean, mean);
            Check("latent logvar", posterior.LogVar, fixture.Io("latent_logvar"));
        }
        Check("decode of the mean", vae.Decode(mean), fixture.Io("decoded"));

        // The N images as one video of N frames: (N, C, H, W) -> (1, C, N, H, W).
        Tensor AsVideo(Tensor images) => images.permute(1, 0, 2, 3).unsqueeze(0);
        double scale = vae.Config.ScalingFactor;
        Check("EncodeVideo (1 frame per slice)", vae.EncodeVideo(AsVideo(x), framesPerSlice: 1), AsVideo(mean * scale));
        Check("DecodeVideo (1 frame per slice)", vae.DecodeVideo(AsVideo(mean * scale), framesPerSlice: 1), AsVideo(fixture.Io("decoded")));
    }
}
