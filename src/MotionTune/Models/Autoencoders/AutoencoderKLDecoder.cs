using MotionTune.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;

namespace MotionTune.Models.Autoencoders;

/// <summary>diffusers' VAE <c>Decoder</c> (group-norm variant): latents (N, latent_channels, h, w) to images.</summary>
public sealed class AutoencoderKLDecoder : nn.Module<Tensor, Tensor>
{
    /// <summary>Input convolution.</summary>
    public readonly Conv2d conv_in;
    /// <summary>Mid block.</summary>
    public readonly UNetMidBlock2D mid_block;
    /// <summary>Up blocks, lowest resolution first.</summary>
    public readonly ModuleList<UpDecoderBlock2D> up_blocks;
    /// <summary>Output norm (eps 1e-6).</summary>
    public readonly GroupNorm conv_norm_out;
    /// <summary>Output convolution.</summary>
    public readonly Conv2d conv_out;

    /// <summary>Creates the decoder from the VAE's config.</summary>
    public AutoencoderKLDecoder(AutoencoderKLConfig config) : base("Decoder")
    {
        const double eps = 1e-6;
        var reversed = config.BlockOutChannels.Reverse().ToArray();
        conv_in = new Conv2d(config.LatentChannels, reversed[0], 3, padding: 1);
        mid_block = new UNetMidBlock2D(reversed[0], config.NormNumGroups, eps, config.ActFn, config.MidBlockAddAttention, reversed[0]);
        var blocks = new List<UpDecoderBlock2D>();
        for (int i = 0; i < reversed.Length; i++)
        {
            if (config.UpBlockTypes[i] != "UpDecoderBlock2D")
                throw new ArgumentException($"AutoencoderKL: up block type '{config.UpBlockTypes[i]}' is not supported (UpDecoderBlock2D).");
            blocks.Add(new UpDecoderBlock2D(i == 0 ? reversed[0] : reversed[i - 1], reversed[i], config.LayersPerBlock + 1,
                config.NormNumGroups, eps, config.ActFn, addUpsample: i < reversed.Length - 1));
        }
        up_blocks = new(blocks.ToArray());
        conv_norm_out = new GroupNorm(config.NormNumGroups, config.BlockOutChannels[0], eps);
        conv_out = new Conv2d(config.BlockOutChannels[0], config.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = conv_in.forward(input).Pipe(mid_block.forward);
        foreach (var block in up_blocks) x = x.Pipe(block.forward);
        return x.Pipe(conv_norm_out.forward).Pipe(t => F.silu(t)).Pipe(conv_out.forward);
    }
}
