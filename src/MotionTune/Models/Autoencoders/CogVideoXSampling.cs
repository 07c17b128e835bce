using MotionTune.Models.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>CogVideoXDownsample3D</c>: optionally halve time by averaging frame pairs (an odd first frame is kept
/// apart), then per frame pad right and bottom by one and apply a stride-2 3×3 <c>conv</c>.
/// </summary>
public sealed class CogVideoXDownsample3D : nn.Module<Tensor, Tensor>
{
    /// <summary>Per-frame 3×3 stride-2 convolution.</summary>
    public readonly Conv2d conv;
    private readonly bool _compressTime;

    /// <summary>Creates the layer.</summary>
    public CogVideoXDownsample3D(long inChannels, long outChannels, bool compressTime) : base(nameof(CogVideoXDownsample3D))
    {
        conv = new Conv2d(inChannels, outChannels, 3, stride: 2, padding: 0);
        _compressTime = compressTime;
        RegisterComponents();
    }

    /// <summary>Downsamples (B, C, F, H, W).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (_compressTime)
        {
            long frames = x.shape[2];
            // avg_pool1d(kernel 2, stride 2) over time is the mean of consecutive frame pairs.
            if (frames % 2 == 1)
            {
                if (frames > 1)
                    x = cat([x[.., .., ..1], x[.., .., 1..].unflatten(2, [(frames - 1) / 2, 2]).mean([3])], 2);
            }
            else
            {
                x = x.unflatten(2, [frames / 2, 2]).mean([3]);
            }
        }
        x = F.pad(x, [0, 1, 0, 1]);
        return PerFrame.Conv(conv, x).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>CogVideoXUpsample3D</c>: nearest ×2 in space, and with time compression also ×2 in time (an odd
/// first frame is only enlarged in space, so 2F−1 frames come out), then a per-frame 3×3 <c>conv</c>.
/// </summary>
public sealed class CogVideoXUpsample3D : nn.Module<Tensor, Tensor>
{
    /// <summary>Per-frame 3×3 convolution (padding 1).</summary>
    public readonly Conv2d conv;
    private readonly bool _compressTime;

    /// <summary>Creates the layer.</summary>
    public CogVideoXUpsample3D(long inChannels, long outChannels, bool compressTime) : base(nameof(CogVideoXUpsample3D))
    {
        conv = new Conv2d(inChannels, outChannels, 3, stride: 1, padding: 1);
        _compressTime = compressTime;
        RegisterComponents();
    }

    /// <summary>Upsamples (B, C, F, H, W).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long frames = x.shape[2];
        double[] spaceOnly = [1, 2, 2], spaceAndTime = [2, 2, 2];
        if (_compressTime && frames > 1 && frames % 2 == 1)
            x = cat([F.interpolate(x[.., .., ..1], scale_factor: spaceOnly), F.interpolate(x[.., .., 1..], scale_factor: spaceAndTime)], 2);
        else if (_compressTime && frames > 1)
            x = F.interpolate(x, scale_factor: spaceAndTime);
        else
            x = F.interpolate(x, scale_factor: spaceOnly); // nearest in 3D with time factor 1 is diffusers' per-frame 2D nearest
        return PerFrame.Conv(conv, x).MoveToOuterDisposeScope();
    }
}

/// <summary>Applies a 2D convolution to every frame of a (B, C, F, H, W) video.</summary>
internal static class PerFrame
{
    public static Tensor Conv(Conv2d conv, Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], f = x.shape[2];
        var frames = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, x.shape[3], x.shape[4]);
        var y = conv.forward(frames);
        // Back to (B, C, F, H, W), contiguous for the group norm that follows.
        return y.view(b, f, y.shape[1], y.shape[2], y.shape[3]).permute(0, 2, 1, 3, 4).contiguous().MoveToOuterDisposeScope();
    }
}
