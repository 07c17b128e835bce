using MotionTune.Models.Autoencoders;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>
/// Maps videos to the latent space a denoiser works in and back. Pixels are (B, 3, F, H, W) in [-1, 1]; latents are
/// (B, C, f, h, w), already multiplied by the VAE's scaling factor (what the denoiser sees).
/// </summary>
public interface IVideoAutoencoder : IDisposable
{
    /// <summary>Latent channels.</summary>
    long LatentChannels { get; }
    /// <summary>Pixels per latent along height and width.</summary>
    int SpatialCompression { get; }
    /// <summary>Latent frames for a clip of <paramref name="frames"/> frames.</summary>
    long LatentFrames(long frames);
    /// <summary>Pixels → scaled latents (the distribution's mean; no sampling, so encoding is deterministic).</summary>
    Tensor Encode(Tensor pixels);
    /// <summary>Scaled latents → pixels in [-1, 1] (not clamped).</summary>
    Tensor Decode(Tensor latents);
}

/// <summary>The Stable Diffusion KL VAE applied frame by frame (ModelScope, Latte).</summary>
public sealed class FrameVae(AutoencoderKL vae) : IVideoAutoencoder
{
    /// <summary>The VAE.</summary>
    public AutoencoderKL Model { get; } = vae;
    /// <inheritdoc />
    public long LatentChannels => Model.Config.LatentChannels;
    /// <inheritdoc />
    public int SpatialCompression => Model.SpatialCompression;
    /// <inheritdoc />
    public long LatentFrames(long frames) => frames;
    /// <inheritdoc />
    public Tensor Encode(Tensor pixels)
    {
        using var _ = no_grad();
        return Model.EncodeVideo(pixels.to(Model.DType));
    }
    /// <inheritdoc />
    public Tensor Decode(Tensor latents)
    {
        using var _ = no_grad();
        return Model.DecodeVideo(latents.to(Model.DType));
    }
    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>CogVideoX's causal 3D VAE: 4× temporal compression (1 + 4k frames → 1 + k latent frames).</summary>
public sealed class CogVideoXVae(AutoencoderKLCogVideoX vae) : IVideoAutoencoder
{
    private readonly ScalarType _dtype = vae.parameters().First().dtype;

    /// <summary>The VAE.</summary>
    public AutoencoderKLCogVideoX Model { get; } = vae;
    /// <inheritdoc />
    public long LatentChannels => Model.Config.LatentChannels;
    /// <inheritdoc />
    public int SpatialCompression => Model.SpatialCompressionRatio;
    /// <inheritdoc />
    public long LatentFrames(long frames)
    {
        if (frames < 1 || (frames - 1) % 4 != 0)
            throw new ArgumentException($"CogVideoX needs 4k + 1 frames (e.g. 17, 33, 49); got {frames}.");
        return (frames - 1) / 4 + 1;
    }
    /// <inheritdoc />
    public Tensor Encode(Tensor pixels)
    {
        using var _ = no_grad();
        LatentFrames(pixels.shape[2]);
        return Model.EncodeVideo(pixels.to(_dtype), sample: false);
    }
    /// <inheritdoc />
    public Tensor Decode(Tensor latents)
    {
        using var _ = no_grad();
        return Model.DecodeVideo(latents.to(_dtype));
    }
    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>No autoencoder: the denoiser works on pixels in [-1, 1] (the bundled ShapesWorld models).</summary>
public sealed class PixelSpace(long channels = 3) : IVideoAutoencoder
{
    /// <inheritdoc />
    public long LatentChannels => channels;
    /// <inheritdoc />
    public int SpatialCompression => 1;
    /// <inheritdoc />
    public long LatentFrames(long frames) => frames;
    /// <inheritdoc />
    public Tensor Encode(Tensor pixels) => pixels.clone();
    /// <inheritdoc />
    public Tensor Decode(Tensor latents) => latents.clone();
    /// <inheritdoc />
    public void Dispose() { }
}
