using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>CogVideoXDecoder3D</c>: causal <c>conv_in</c>, a mid block and up blocks whose norms are spatial norms
/// on the latents (the first log2(temporal compression) up blocks also double time), spatial <c>norm_out</c>, SiLU and
/// causal <c>conv_out</c>.
/// </summary>
public sealed class CogVideoXDecoder3D : nn.Module
{
    /// <summary>Input convolution.</summary>
    public readonly CogVideoXCausalConv3d conv_in;
    /// <summary>Mid block.</summary>
    public readonly CogVideoXMidBlock3D mid_block;
    /// <summary>Up blocks.</summary>
    public readonly ModuleList<CogVideoXUpBlock3D> up_blocks;
    /// <summary>Output spatial norm.</summary>
    public readonly CogVideoXSpatialNorm3D norm_out;
    /// <summary>Output convolution.</summary>
    public readonly CogVideoXCausalConv3d conv_out;

    /// <summary>Creates the decoder for <paramref name="config"/>.</summary>
    public CogVideoXDecoder3D(AutoencoderKLCogVideoXConfig config) : base(nameof(CogVideoXDecoder3D))
    {
        var reversed = config.BlockOutChannels.Reverse().ToArray();
        int groups = config.NormNumGroups, timeHalvings = (int)Math.Log2(config.TemporalCompressionRatio);
        long latent = config.LatentChannels;
        conv_in = new CogVideoXCausalConv3d(latent, reversed[0], 3);
        mid_block = new CogVideoXMidBlock3D(reversed[0], 2, groups, config.NormEps, spatialNormDim: latent);
        var blocks = new List<CogVideoXUpBlock3D>();
        int output = reversed[0];
        for (int i = 0; i < config.UpBlockTypes.Length; i++)
        {
            if (config.UpBlockTypes[i] != "CogVideoXUpBlock3D")
                throw new ArgumentException($"AutoencoderKLCogVideoX: up block type '{config.UpBlockTypes[i]}' is not CogVideoXUpBlock3D.");
            int previous = output;
            output = reversed[i];
            blocks.Add(new CogVideoXUpBlock3D(previous, output, config.LayersPerBlock + 1, groups, config.NormEps, latent,
                addUpsample: i != reversed.Length - 1, compressTime: i < timeHalvings));
        }
        up_blocks = new ModuleList<CogVideoXUpBlock3D>(blocks.ToArray());
        norm_out = new CogVideoXSpatialNorm3D(reversed[^1], latent, groups);
        conv_out = new CogVideoXCausalConv3d(reversed[^1], config.OutChannels, 3);
        RegisterComponents();
    }

    /// <summary>Decodes (B, latent, F, h, w) latents to (B, C, F', 8h, 8w) frames.</summary>
    public Tensor forward(Tensor z, CogVideoXConvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(z, cache);
        h = Blocks.Released(h, mid_block.forward(h, z, cache), z);
        foreach (var block in up_blocks) h = Blocks.Released(h, block.forward(h, z, cache), z);
        h = Blocks.Released(h, norm_out.forward(h, z), z);
        h = Blocks.Released(h, is_grad_enabled() ? F.silu(h) : h.silu_(), z);
        return conv_out.forward(h, cache).MoveToOuterDisposeScope();
    }
}
