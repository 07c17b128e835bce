using MotionTune.Models.Autoencoders;
using MotionTune.Runtime;
using MotionTune.Tests.Parity;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.Autoencoders;

public sealed class CogVideoXVaeTests
{
    public CogVideoXVaeTests() => TorchRuntime.Initialize();

    /// <summary>The tiny VAE of the vae_cogvideox fixture (real weights of a random model: 4 blocks, 8× space, 4× time).</summary>
    private static AutoencoderKLCogVideoX TinyVae() => AutoencoderKLCogVideoX.FromPretrained(Path.Combine(Fixtures.Root, "vae_cogvideox"));

    [Fact]
    public void FrameBatchesAreDiffusers()
    {
        Assert.Equal([(0L, 3L), (3, 5), (5, 7), (7, 9), (9, 11), (11, 13)], AutoencoderKLCogVideoX.FrameBatches(13, 2));
        Assert.Equal([(0L, 9L), (9, 17), (17, 25), (25, 33), (33, 41), (41, 49)], AutoencoderKLCogVideoX.FrameBatches(49, 8));
        Assert.Equal([(0L, 1L)], AutoencoderKLCogVideoX.FrameBatches(1, 2));
        Assert.Equal([(0L, 3L)], AutoencoderKLCogVideoX.FrameBatches(3, 8));
    }

    [Fact]
    public void CausalConvolutionWithFrameCacheEqualsTheWholeVideo()
    {
        manual_seed(0);
        using var conv = new CogVideoXCausalConv3d(3, 5, 3);
        using var noGrad = no_grad();
        var video = randn([1, 3, 7, 6, 6]);
        var whole = conv.forward(video);
        using var cache = new CogVideoXConvCache();
        var batched = cat([conv.forward(video[.., .., ..3], cache), conv.forward(video[.., .., 3..], cache)], 2);
        Assert.True(batched.allclose(whole, 1e-5, 1e-6), "frame-batched causal convolution differs from the whole-video one");
        // Without a cache, the first frame is repeated into the past: output frame 0 only sees frame 0.
        var firstOnly = conv.forward(video[.., .., ..1]);
        Assert.True(firstOnly.allclose(whole[.., .., ..1], 1e-5, 1e-6));
    }

    [Fact]
    public void FortyNineFramesRoundTripThroughThirteenLatentFrames()
    {
        using var vae = TinyVae();
        using var noGrad = no_grad();
        manual_seed(1);
        var video = rand([1, 3, 49, 8, 16]) * 2 - 1;
        using var posterior = vae.Encode(video);
        Assert.Equal([1, 4, 13, 1, 2], posterior.Mean.shape);
        var decoded = vae.Decode(posterior.Mean);
        Assert.Equal([1, 3, 49, 8, 16], decoded.shape);
        Assert.False(decoded.isnan().any().item<bool>());
    }

    [Fact]
    public void ScaledHelpersApplyTheScalingFactor()
    {
        using var vae = TinyVae();
        using var noGrad = no_grad();
        manual_seed(2);
        var video = rand([1, 3, 5, 8, 8]) * 2 - 1;
        using var posterior = vae.Encode(video);
        var latents = vae.EncodeVideo(video, sample: false);
        Assert.True(latents.allclose(posterior.Mean * 1.15258426, 1e-5, 1e-6));
        Assert.True(vae.DecodeVideo(latents).allclose(vae.Decode(posterior.Mean), 1e-4, 1e-5));
        // Sampling draws from N(mean, exp(logvar)): reproducible under a generator, and different from the mean.
        var a = vae.EncodeVideo(video, generator: new Generator(7));
        var b = vae.EncodeVideo(video, generator: new Generator(7));
        Assert.True(a.SameAs(b));
        Assert.False(a.allclose(latents));
    }

    [Fact]
    public void TiledDecodeStitchesDecodedTiles()
    {
        using var vae = TinyVae();
        using var noGrad = no_grad();
        manual_seed(3);
        var latents = randn([1, 4, 1, 4, 5]); // one latent frame keeps the CPU test fast
        var whole = vae.Decode(latents);

        // 24-pixel (3-latent) tiles overlapping by a third: stride 2 latents = 16 pixels, blend 8 pixels, keep 16.
        vae.UseTiling = true;
        vae.TileSampleMinHeight = vae.TileSampleMinWidth = 24;
        vae.TileOverlapFactorHeight = vae.TileOverlapFactorWidth = 1.0 / 3;
        var tiled = vae.Decode(latents);
        Assert.Equal(whole.shape, tiled.shape);

        // The top-left tile is never blended into: its first 16 x 16 pixels are that tile decoded alone.
        vae.UseTiling = false;
        var firstTile = vae.Decode(latents[.., .., .., ..3, ..3]);
        Assert.True(tiled[.., .., .., ..16, ..16].allclose(firstTile[.., .., .., ..16, ..16], 1e-6, 1e-7));
    }

    [Fact]
    public void BlendIsDiffusersLinearRamp()
    {
        manual_seed(4);
        var a = randn([1, 2, 1, 5, 6]);
        var b = randn([1, 2, 1, 5, 6]);
        var expected = b.clone();
        const int extent = 3;
        for (int x = 0; x < extent; x++)
            expected[.., .., .., .., x] = a[.., .., .., .., 6 - extent + x] * (1 - x / (double)extent) + b[.., .., .., .., x] * (x / (double)extent);
        AutoencoderKLCogVideoX.BlendInto(a, b, extent, dim: 4);
        Assert.True(b.allclose(expected, 0, 1e-7));
    }

    [Fact]
    public void RejectsWrongShapes()
    {
        using var vae = TinyVae();
        using var noGrad = no_grad();
        var error = Assert.Throws<ArgumentException>(() => vae.Decode(randn([1, 3, 2, 4, 4])));
        Assert.Contains("latents", error.Message);
        Assert.Throws<ArgumentException>(() => vae.Encode(randn([3, 9, 32, 32])));
    }
}
