using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Presets;
using MotionTune.Runtime;
using MotionTune.Tests.Parity;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.Autoencoders;

public sealed class AutoencoderKLTests(ITestOutputHelper output)
{
    private static readonly string SdVaeConfig = ModelPresets.PathOf(ModelPresets.StableDiffusionVae);
    private const string SdVaeSnapshot = "tests/MotionTune.Tests/Models/Snapshots/sd_vae_kl.txt";

    /// <summary>Parameters of stabilityai/sd-vae-ft-mse (the Stable Diffusion VAE ModelScope also uses): 83.65 M.</summary>
    private const long SdVaeParameters = 83_653_863;

    private static readonly AutoencoderKLConfig Tiny = new()
    {
        BlockOutChannels = [8, 16],
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        LayersPerBlock = 1,
        NormNumGroups = 4,
        ScalingFactor = 0.5,
    };

    static AutoencoderKLTests() => TorchRuntime.Initialize();

    private static AutoencoderKL TinyVae()
    {
        manual_seed(5);
        var vae = new AutoencoderKL(Tiny);
        vae.eval();
        return vae;
    }

    [Fact]
    public void StableDiffusionVaeBuildsWithTheCheckpointsNamesAndShapes()
    {
        var warnings = new List<string>();
        var config = ConfigFile.Load<AutoencoderKLConfig>(SdVaeConfig, warnings.Add);
        Assert.Empty(warnings);
        AutoencoderKL vae;
        using (ParameterFactory.Scope(META))
            vae = new AutoencoderKL(config);
        ShapeSnapshot.AssertMatches(vae, SdVaeSnapshot);
        long count = vae.parameters().Sum(p => p.numel());
        output.WriteLine($"SD VAE (AutoencoderKL): {count:N0} parameters");
        Assert.Equal(SdVaeParameters, count);

        // A 16-frame 256x256 video maps to 4x16x32x32 latents and back (shapes only, on meta).
        var latents = vae.EncodeVideo(empty([1, 3, 16, 256, 256], device: META));
        Assert.Equal([1, 4, 16, 32, 32], latents.shape);
        Assert.Equal([1, 3, 16, 256, 256], vae.DecodeVideo(latents).shape);
    }

    [Fact]
    public void VideoHelpersDoNotDependOnTheSliceSize()
    {
        var vae = TinyVae();
        using var _ = no_grad();
        manual_seed(1);
        var video = rand([2, 3, 5, 8, 8]) * 2 - 1; // two videos of five frames: slices of 2 cross the video boundary

        var whole = vae.EncodeVideo(video, framesPerSlice: 10);
        var sliced = vae.EncodeVideo(video, framesPerSlice: 2);
        Assert.Equal([2, 4, 5, 4, 4], whole.shape);
        Assert.True(sliced.allclose(whole, 1e-5, 1e-6), $"sliced encoding differs by {ParityAssert.MaxAbsError(sliced, whole):E2}");

        // Frame (b, f) of the latents is the scaled posterior mean of frame (b, f) of the video.
        using (var posterior = vae.Encode(video[1, .., 3].unsqueeze(0)))
            Assert.True(whole[1, .., 3].allclose(posterior.Mean[0] * Tiny.ScalingFactor, 1e-5, 1e-6));

        var decodedWhole = vae.DecodeVideo(whole, framesPerSlice: 10);
        var decodedSliced = vae.DecodeVideo(whole, framesPerSlice: 3);
        Assert.Equal([2, 3, 5, 8, 8], decodedWhole.shape);
        Assert.True(decodedSliced.allclose(decodedWhole, 1e-5, 1e-6));
        Assert.True(decodedWhole[0, .., 4].allclose(vae.Decode((whole[0, .., 4] / Tiny.ScalingFactor).unsqueeze(0))[0], 1e-5, 1e-6));
    }

    [Fact]
    public void Bfloat16VaeStaysCloseToFloat32()
    {
        using var fixture = Fixtures.Open("vae_kl");
        using var _ = no_grad();
        var video = fixture.Io("x").permute(1, 0, 2, 3).unsqueeze(0);
        var vae = AutoencoderKL.FromPretrained(fixture.Dir);
        var vaeBf16 = AutoencoderKL.FromPretrained(fixture.Dir, dtype: ScalarType.BFloat16);
        var latents = vae.EncodeVideo(video);
        var latentsBf16 = vaeBf16.EncodeVideo(video);
        Assert.Equal(ScalarType.BFloat16, latentsBf16.dtype);
        var decoded = vae.DecodeVideo(latents);
        // bf16 keeps about 3 significant digits: compare relative to the outputs' magnitude.
        double encodeError = ParityAssert.MaxAbsError(latentsBf16, latents) / latents.abs().max().item<float>();
        double decodeError = ParityAssert.MaxAbsError(vaeBf16.DecodeVideo(latents), decoded) / decoded.abs().max().item<float>();
        output.WriteLine($"bf16 vs fp32 on vae_kl, relative to the largest output: latents {encodeError:E2}, decoded {decodeError:E2}");
        Assert.True(encodeError < 0.05 && decodeError < 0.05, $"bf16 differs from fp32 by {encodeError} (latents), {decodeError} (decoded)");
    }

    [Fact]
    public void SampledLatentsFollowTheGenerator()
    {
        var vae = TinyVae();
        using var _ = no_grad();
        var video = rand([1, 3, 2, 8, 8]);
        var a = vae.EncodeVideo(video, sample: true, generator: new Generator(42));
        var b = vae.EncodeVideo(video, sample: true, generator: new Generator(42));
        var c = vae.EncodeVideo(video, sample: true, generator: new Generator(43));
        var mean = vae.EncodeVideo(video);
        Assert.True(a.SameAs(b));
        Assert.False(a.allclose(c));
        Assert.False(a.allclose(mean));
    }

    [Fact]
    public void ShiftFactorIsAppliedAroundTheScaling()
    {
        var plain = TinyVae();
        manual_seed(5);
        var shifted = new AutoencoderKL(Tiny with { ShiftFactor = 0.25 });
        shifted.load_state_dict(plain.state_dict());
        using var _ = no_grad();
        var video = rand([1, 3, 1, 8, 8]);
        var z = plain.EncodeVideo(video) / Tiny.ScalingFactor;
        Assert.True(shifted.EncodeVideo(video).allclose((z - 0.25) * Tiny.ScalingFactor, 1e-5, 1e-6));
        Assert.True(shifted.DecodeVideo((z - 0.25) * Tiny.ScalingFactor).allclose(plain.DecodeVideo(z * Tiny.ScalingFactor), 1e-4, 1e-5));
    }

    [Fact]
    public void EveryKeyOfTheDiffusersConfigIsKnown()
    {
        using var fixture = Fixtures.Open("vae_kl");
        var warnings = new List<string>();
        var config = ConfigFile.Load<AutoencoderKLConfig>(fixture.PathOf("config.json"), warnings.Add);
        Assert.Empty(warnings);
        Assert.Equal(0.18215, config.ScalingFactor);
        Assert.Equal([32], config.SampleSize);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var vae = TinyVae();
        using var _ = no_grad();
        var e = Assert.Throws<ArgumentException>(() => vae.EncodeVideo(rand([1, 3, 8, 8])));
        Assert.Contains("[1, 3, 8, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => vae.DecodeVideo(rand([1, 3, 2, 4, 4])));
        Assert.Contains("latents", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => vae.EncodeVideo(rand([1, 3, 2, 8, 8]), framesPerSlice: 0));
        e = Assert.Throws<ArgumentException>(() => new AutoencoderKL(Tiny with { UpBlockTypes = ["UpDecoderBlock2D", "AttnUpDecoderBlock2D"] }));
        Assert.Contains("AttnUpDecoderBlock2D", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => AutoencoderKL.FromPretrained("/nonexistent/vae"));
    }
}
