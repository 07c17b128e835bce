using MotionTune.IO;
using MotionTune.Models.Layers;
using static TorchSharp.torch;
using Conv2d = MotionTune.Models.Layers.Conv2d;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>AutoencoderKL</c>, the Stable Diffusion VAE that ModelScope text-to-video uses frame by frame:
/// encoder → <c>quant_conv</c> → diagonal Gaussian (mean, logvar); <c>post_quant_conv</c> → decoder.
/// <see cref="EncodeVideo"/> and <see cref="DecodeVideo"/> handle (B, C, F, H, W) videos in slices of frames so that
/// memory does not grow with the frame count, and apply the config's scaling.
/// </summary>
public sealed class AutoencoderKL : nn.Module
{
    /// <summary>Image encoder.</summary>
    public readonly AutoencoderKLEncoder encoder;
    /// <summary>Latent decoder.</summary>
    public readonly AutoencoderKLDecoder decoder;
    /// <summary>1x1 convolution on the moments, or null (use_quant_conv false).</summary>
    public readonly Conv2d? quant_conv;
    /// <summary>1x1 convolution on the latents before decoding, or null (use_post_quant_conv false).</summary>
    public readonly Conv2d? post_quant_conv;

    /// <summary>The config the model was built from.</summary>
    public AutoencoderKLConfig Config { get; }

    /// <summary>Frames encoded or decoded at once by the video helpers (default 8).</summary>
    public int FramesPerSlice { get; set; } = 8;

    /// <summary>Builds the model (parameters follow <see cref="ParameterFactory"/>'s current scope).</summary>
    public AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        Config = config;
        int levels = config.BlockOutChannels.Length;
        if (levels == 0) throw new ArgumentException("AutoencoderKL: block_out_channels is empty.");
        if (config.DownBlockTypes.Length != levels || config.UpBlockTypes.Length != levels)
            throw new ArgumentException($"AutoencoderKL: {config.DownBlockTypes.Length} down and {config.UpBlockTypes.Length} up block types " +
                $"for {levels} block_out_channels; they must all have the same length.");
        encoder = new AutoencoderKLEncoder(config);
        decoder = new AutoencoderKLDecoder(config);
        long latent = config.LatentChannels;
        if (config.UseQuantConv) quant_conv = new Conv2d(2 * latent, 2 * latent, 1);
        if (config.UsePostQuantConv) post_quant_conv = new Conv2d(latent, latent, 1);
        RegisterComponents();
    }

    /// <summary>Loads a diffusers-format VAE folder (<c>config.json</c> + safetensors), strictly.</summary>
    /// <param name="folder">The folder, e.g. <c>text-to-video-ms-1.7b/vae</c>.</param>
    /// <param name="device">Where the weights live (CPU by default).</param>
    /// <param name="dtype">Parameter dtype (float32 by default; see <see cref="AutoencoderKLConfig.ForceUpcast"/>).</param>
    /// <returns>The model in evaluation mode.</returns>
    public static AutoencoderKL FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"VAE folder not found: {folder}");
        var config = ConfigFile.Load<AutoencoderKLConfig>(Path.Combine(folder, "config.json"));
        AutoencoderKL model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false))
            model = new AutoencoderKL(config);
        StateDictLoader.LoadFolder(model, folder);
        model.eval();
        return model;
    }

    /// <summary>The dtype of the parameters.</summary>
    public ScalarType DType => encoder.conv_in.weight.dtype;

    /// <summary>How many times smaller the latents are than the images in each spatial direction.</summary>
    public int SpatialCompression => 1 << (Config.BlockOutChannels.Length - 1);

    /// <summary>Encodes images (N, C, H, W) into the posterior over unscaled latents.</summary>
    public DiagonalGaussianDistribution Encode(Tensor images)
    {
        CheckChannels(images, 4, Config.InChannels, "images", "Encode");
        using var scope = NewDisposeScope();
        var moments = encoder.forward(images);
        if (quant_conv is not null) moments = moments.Pipe(quant_conv.forward);
        var posterior = new DiagonalGaussianDistribution(moments);
        posterior.Mean.MoveToOuterDisposeScope();
        posterior.LogVar.MoveToOuterDisposeScope();
        return posterior;
    }

    /// <summary>Decodes unscaled latents (N, latent_channels, h, w) into images.</summary>
    public Tensor Decode(Tensor latents)
    {
        CheckChannels(latents, 4, Config.LatentChannels, "latents", "Decode");
        using var scope = NewDisposeScope();
        var z = post_quant_conv is null ? latents : post_quant_conv.forward(latents);
        return decoder.forward(z).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Encodes a video (B, C, F, H, W), <see cref="FramesPerSlice"/> frames at a time, into scaled latents
    /// (B, latent_channels, F, H/8, W/8) for the diffusion model: (z − shift_factor) · scaling_factor, where z is the
    /// posterior mean, or a sample of it when <paramref name="sample"/> (as training scripts do; the noise comes from
    /// <paramref name="generator"/> when given). Pixels are expected in [-1, 1]; they are cast to the VAE's dtype.
    /// Call under <c>no_grad</c>.
    /// </summary>
    public Tensor EncodeVideo(Tensor pixels, bool sample = false, Generator? generator = null, int? framesPerSlice = null)
    {
        CheckChannels(pixels, 5, Config.InChannels, "pixels", "EncodeVideo");
        using var scope = NewDisposeScope();
        var (b, c, f, h, w) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3], pixels.shape[4]);
        var frames = pixels.to(DType).permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w);
        var latents = InSlices(frames, framesPerSlice, slice =>
        {
            using var posterior = Encode(slice);
            return sample ? posterior.Sample(generator) : posterior.Mean.clone();
        });
        if (Config.ShiftFactor is double shift) latents = latents.Pipe(z => z - shift);
        latents = latents.Pipe(z => z * Config.ScalingFactor);
        var video = latents.view(b, f, latents.shape[1], latents.shape[2], latents.shape[3]).permute(0, 2, 1, 3, 4).contiguous();
        return video.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Decodes scaled latents (B, latent_channels, F, h, w), as the diffusion model produces them, into a video
    /// (B, C, F, 8h, 8w) in about [-1, 1], <see cref="FramesPerSlice"/> frames at a time. Call under <c>no_grad</c>.
    /// </summary>
    public Tensor DecodeVideo(Tensor latents, int? framesPerSlice = null)
    {
        CheckChannels(latents, 5, Config.LatentChannels, "latents", "DecodeVideo");
        using var scope = NewDisposeScope();
        var (b, c, f, h, w) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3], latents.shape[4]);
        var z = latents.to(DType) / Config.ScalingFactor;
        if (Config.ShiftFactor is double shift) z = z.Pipe(t => t + shift);
        var frames = z.Pipe(t => t.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w));
        var images = InSlices(frames, framesPerSlice, Decode);
        var video = images.view(b, f, images.shape[1], images.shape[2], images.shape[3]).permute(0, 2, 1, 3, 4).contiguous();
        return video.MoveToOuterDisposeScope();
    }

    /// <summary>Applies <paramref name="run"/> to consecutive slices of a frame batch and concatenates the results.</summary>
    private Tensor InSlices(Tensor frames, int? framesPerSlice, Func<Tensor, Tensor> run)
    {
        int perSlice = framesPerSlice ?? FramesPerSlice;
        if (perSlice < 1) throw new ArgumentOutOfRangeException(nameof(framesPerSlice), perSlice, "AutoencoderKL: frames per slice must be at least 1.");
        long n = frames.shape[0];
        if (n <= perSlice) return run(frames);
        var parts = new List<Tensor>();
        for (long start = 0; start < n; start += perSlice)
        {
            using var slice = frames.narrow(0, start, Math.Min(perSlice, n - start));
            parts.Add(run(slice));
        }
        var all = cat(parts, 0);
        foreach (var part in parts) part.Dispose();
        return all;
    }

    private static void CheckChannels(Tensor x, int dims, int channels, string what, string method)
    {
        if (x.dim() != dims || x.shape[1] != channels)
            throw new ArgumentException($"AutoencoderKL.{method}: {what} must be {(dims == 4 ? "(N" : "(B")}, {channels}, " +
                $"{(dims == 4 ? "H, W)" : "F, H, W)")}, got [{string.Join(", ", x.shape)}].");
    }
}
