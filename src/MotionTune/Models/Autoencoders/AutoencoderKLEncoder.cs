using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' VAE <c>Encoder</c> (as <see cref="AutoencoderKL"/> builds it, double_z): images (N, C, H, W) to
/// moments (N, 2·latent_channels, H/2^k, W/2^k).
/// </summary>
public sealed class AutoencoderKLEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>Input convolution.</summary>
    public readonly Conv2d conv_in;
    /// <summary>Down blocks.</summary>
    public readonly ModuleList<DownEncoderBlock2D> down_blocks;
    /// <summary>Mid block.</summary>
    public readonly UNetMidBlock2D mid_block;
    /// <summary>Output norm (eps 1e-6).</summary>
    public readonly GroupNorm conv_norm_out;
    /// <summary>Output convolution to mean and log-variance.</summary>
    public readonly Conv2d conv_out;

    /// <summary>Creates the encoder from the VAE's config.</summary>
    public AutoencoderKLEncoder(AutoencoderKLConfig config) : base("Encoder")
    {
        const double eps = 1e-6;
        var channels = config.BlockOutChannels;
        conv_in = new Conv2d(config.InChannels, channels[0], 3, padding: 1);
        var blocks = new List<DownEncoderBlock2D>();
        for (int i = 0; i < channels.Length; i++)
        {
            if (config.DownBlockTypes[i] != "DownEncoderBlock2D")
                throw new ArgumentException($"AutoencoderKL: down block type '{config.DownBlockTypes[i]}' is not supported (DownEncoderBlock2D).");
            blocks.Add(new DownEncoderBlock2D(i == 0 ? channels[0] : channels[i - 1], channels[i], config.LayersPerBlock,
                config.NormNumGroups, eps, config.ActFn, addDownsample: i < channels.Length - 1, downsamplePadding: 0));
        }
        down_blocks = new(blocks.ToArray());
        mid_block = new UNetMidBlock2D(channels[^1], config.NormNumGroups, eps, config.ActFn, config.MidBlockAddAttention, channels[^1]);
        conv_norm_out = new GroupNorm(config.NormNumGroups, channels[^1], eps);
        conv_out = new Conv2d(channels[^1], 2L * config.LatentChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = conv_in.forward(input);
        foreach (var block in down_blocks) x = x.Pipe(block.forward);
        return x.Pipe(mid_block.forward).Pipe(conv_norm_out.forward).Pipe(t => F.silu(t)).Pipe(conv_out.forward);
    }
}
