using MotionTune.Models.Layers;
using TorchSharp.Modules;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>CogVideoXEncoder3D</c>: causal <c>conv_in</c>, down blocks (the first log2(temporal compression) also
/// halve time), a mid block, group norm, SiLU and causal <c>conv_out</c> to 2 · latent channels (mean and log-variance).
/// </summary>
public sealed class CogVideoXEncoder3D : nn.Module
{
    /// <summary>Input convolution.</summary>
    public readonly CogVideoXCausalConv3d conv_in;
    /// <summary>Down blocks.</summary>
    public readonly ModuleList<CogVideoXDownBlock3D> down_blocks;
    /// <summary>Mid block.</summary>
    public readonly CogVideoXMidBlock3D mid_block;
    /// <summary>Output group norm (eps 1e-6).</summary>
    public readonly GroupNorm norm_out;
    /// <summary>Output convolution.</summary>
    public readonly CogVideoXCausalConv3d conv_out;

    /// <summary>Creates the encoder for <paramref name="config"/>.</summary>
    public CogVideoXEncoder3D(AutoencoderKLCogVideoXConfig config) : base(nameof(CogVideoXEncoder3D))
    {
        var channels = config.BlockOutChannels;
        int groups = config.NormNumGroups, timeHalvings = (int)Math.Log2(config.TemporalCompressionRatio);
        conv_in = new CogVideoXCausalConv3d(config.InChannels, channels[0], 3);
        var blocks = new List<CogVideoXDownBlock3D>();
        int output = channels[0];
        for (int i = 0; i < config.DownBlockTypes.Length; i++)
        {
            if (config.DownBlockTypes[i] != "CogVideoXDownBlock3D")
                throw new ArgumentException($"AutoencoderKLCogVideoX: down block type '{config.DownBlockTypes[i]}' is not CogVideoXDownBlock3D.");
            int input = output;
            output = channels[i];
            blocks.Add(new CogVideoXDownBlock3D(input, output, config.LayersPerBlock, groups, config.NormEps,
                addDownsample: i != channels.Length - 1, compressTime: i < timeHalvings));
        }
        down_blocks = new ModuleList<CogVideoXDownBlock3D>(blocks.ToArray());
        mid_block = new CogVideoXMidBlock3D(channels[^1], 2, groups, config.NormEps, spatialNormDim: null);
        norm_out = new GroupNorm(groups, channels[^1], 1e-6);
        conv_out = new CogVideoXCausalConv3d(channels[^1], 2L * config.LatentChannels, 3);
        RegisterComponents();
    }

    /// <summary>Encodes (B, C, F, H, W) video frames to (B, 2 · latent, F', H/2^k, W/2^k) moments.</summary>
    public Tensor forward(Tensor x, CogVideoXConvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(x, cache);
        foreach (var block in down_blocks) h = Blocks.Released(h, block.forward(h, cache), x);
        h = Blocks.Released(h, mid_block.forward(h, null, cache), x);
        h = Blocks.Released(h, F.silu(norm_out.forward(h)), x);
        return conv_out.forward(h, cache).MoveToOuterDisposeScope();
    }
}
