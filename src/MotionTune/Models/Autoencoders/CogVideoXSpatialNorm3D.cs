using MotionTune.Models.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>CogVideoXSpatialNorm3D</c> (the decoder's norm, arXiv 2209.09002): group-normalised features f scaled and
/// shifted per position by 1×1×1 convolutions (<c>conv_y</c>, <c>conv_b</c>) of the latents zq, resized to f by nearest
/// neighbour; for an odd frame count the first frame is resized on its own, as the causal VAE keeps it apart.
/// </summary>
public sealed class CogVideoXSpatialNorm3D : nn.Module
{
    /// <summary>Group norm of f (eps 1e-6).</summary>
    public readonly GroupNorm norm_layer;
    /// <summary>Scale from the latents.</summary>
    public readonly CogVideoXCausalConv3d conv_y;
    /// <summary>Shift from the latents.</summary>
    public readonly CogVideoXCausalConv3d conv_b;

    /// <summary>Creates the layer.</summary>
    public CogVideoXSpatialNorm3D(long fChannels, long zqChannels, int groups = 32) : base(nameof(CogVideoXSpatialNorm3D))
    {
        norm_layer = new GroupNorm(groups, fChannels, 1e-6);
        conv_y = new CogVideoXCausalConv3d(zqChannels, fChannels, 1);
        conv_b = new CogVideoXCausalConv3d(zqChannels, fChannels, 1);
        RegisterComponents();
    }

    /// <summary>Normalises (B, C, F, H, W) <paramref name="f"/> conditioned on the (B, zq, f', h, w) latents <paramref name="zq"/>.</summary>
    public Tensor forward(Tensor f, Tensor zq)
    {
        using var scope = NewDisposeScope();
        long frames = f.shape[2], h = f.shape[3], w = f.shape[4];
        Tensor z;
        if (frames > 1 && frames % 2 == 1)
        {
            var first = F.interpolate(zq[.., .., ..1], [1, h, w]);
            var rest = F.interpolate(zq[.., .., 1..], [frames - 1, h, w]);
            z = cat([first, rest], 2);
        }
        else
        {
            z = F.interpolate(zq, [frames, h, w]);
        }
        // Kernel-1 causal convolutions need no frame cache.
        var normed = norm_layer.forward(f);
        var scale = conv_y.forward(z);
        if (is_grad_enabled())
            return (normed * scale + conv_b.forward(z)).MoveToOuterDisposeScope();
        // Without autograd, modulate in place and free each full-resolution temporary as soon as it is used.
        normed.mul_(scale);
        scale.Dispose();
        using var shift = conv_b.forward(z);
        return normed.add_(shift).MoveToOuterDisposeScope();
    }
}
