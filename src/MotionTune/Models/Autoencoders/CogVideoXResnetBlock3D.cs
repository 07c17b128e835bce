using MotionTune.Models.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>CogVideoXResnetBlock3D</c> as the VAE uses it (no timestep embedding, no conv shortcut option):
/// norm, SiLU, causal conv, norm, SiLU, causal conv, plus the input (through a 1×1×1 <c>conv_shortcut</c> when the
/// width changes). The norms are group norms in the encoder and spatial norms on the latents in the decoder.
/// </summary>
public sealed class CogVideoXResnetBlock3D : nn.Module
{
    /// <summary>First norm: <see cref="GroupNorm"/> or <see cref="CogVideoXSpatialNorm3D"/>.</summary>
    public readonly nn.Module norm1;
    /// <summary>First causal convolution.</summary>
    public readonly CogVideoXCausalConv3d conv1;
    /// <summary>Second norm, as <see cref="norm1"/>.</summary>
    public readonly nn.Module norm2;
    /// <summary>Second causal convolution.</summary>
    public readonly CogVideoXCausalConv3d conv2;
    /// <summary>1×1×1 projection of the input when in and out widths differ, else null.</summary>
    public readonly CogVideoXSafeConv3d? conv_shortcut;

    /// <summary>Creates the block; <paramref name="spatialNormDim"/> (the latent channels) selects spatial norms.</summary>
    public CogVideoXResnetBlock3D(long inChannels, long outChannels, int groups, double eps, long? spatialNormDim = null)
        : base(nameof(CogVideoXResnetBlock3D))
    {
        if (spatialNormDim is long zq)
        {
            norm1 = new CogVideoXSpatialNorm3D(inChannels, zq, groups);
            norm2 = new CogVideoXSpatialNorm3D(outChannels, zq, groups);
        }
        else
        {
            norm1 = new GroupNorm(groups, inChannels, eps);
            norm2 = new GroupNorm(groups, outChannels, eps);
        }
        conv1 = new CogVideoXCausalConv3d(inChannels, outChannels, 3);
        conv2 = new CogVideoXCausalConv3d(outChannels, outChannels, 3);
        if (inChannels != outChannels) conv_shortcut = new CogVideoXSafeConv3d(inChannels, outChannels, (1, 1, 1));
        RegisterComponents();
    }

    /// <summary>Runs the block on (B, C, F, H, W); <paramref name="zq"/> are the latents for spatial norms.</summary>
    public Tensor forward(Tensor input, Tensor? zq, CogVideoXConvCache? cache)
    {
        using var scope = NewDisposeScope();
        // Intermediates are released as soon as they are dead: at decoder resolution each is gigabytes.
        var h = Norm(norm1, input, zq);
        Replace(ref h, SiluInPlace(h));
        Replace(ref h, conv1.forward(h, cache));
        Replace(ref h, Norm(norm2, h, zq));
        Replace(ref h, SiluInPlace(h));
        Replace(ref h, conv2.forward(h, cache));
        var shortcut = conv_shortcut?.forward(input) ?? input;
        var output = h.add_(shortcut);
        return output.MoveToOuterDisposeScope();
    }

    private static Tensor Norm(nn.Module norm, Tensor x, Tensor? zq) => norm switch
    {
        CogVideoXSpatialNorm3D spatial => spatial.forward(x, zq ?? throw new ArgumentException("The decoder's spatial norms need the latents.")),
        GroupNorm group => group.forward(x),
        _ => throw new InvalidOperationException($"Unexpected norm {norm.GetType().Name}."),
    };

    /// <summary>SiLU in place when no gradient is recorded (the input is a fresh temporary), out of place otherwise.</summary>
    private static Tensor SiluInPlace(Tensor x) => is_grad_enabled() ? F.silu(x) : x.silu_();

    private static void Replace(ref Tensor current, Tensor next)
    {
        if (!ReferenceEquals(current, next)) current.Dispose();
        current = next;
    }
}
