using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>diffusers' <c>CogVideoXDownBlock3D</c>: resnets, then an optional <see cref="CogVideoXDownsample3D"/>.</summary>
public sealed class CogVideoXDownBlock3D : nn.Module
{
    /// <summary>Resnet blocks.</summary>
    public readonly ModuleList<CogVideoXResnetBlock3D> resnets;
    /// <summary>The downsampler (index 0), or null in the last block.</summary>
    public readonly ModuleList<CogVideoXDownsample3D>? downsamplers;

    /// <summary>Creates the block.</summary>
    public CogVideoXDownBlock3D(long inChannels, long outChannels, int numLayers, int groups, double eps, bool addDownsample, bool compressTime)
        : base(nameof(CogVideoXDownBlock3D))
    {
        resnets = new ModuleList<CogVideoXResnetBlock3D>(Enumerable.Range(0, numLayers)
            .Select(i => new CogVideoXResnetBlock3D(i == 0 ? inChannels : outChannels, outChannels, groups, eps)).ToArray());
        if (addDownsample) downsamplers = new ModuleList<CogVideoXDownsample3D>(new CogVideoXDownsample3D(outChannels, outChannels, compressTime));
        RegisterComponents();
    }

    /// <summary>Runs the block on (B, C, F, H, W) <paramref name="input"/>.</summary>
    public Tensor forward(Tensor input, CogVideoXConvCache? cache)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var resnet in resnets) x = Blocks.Released(x, resnet.forward(x, null, cache), input);
        if (downsamplers is not null) x = Blocks.Released(x, downsamplers[0].forward(x), input);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>CogVideoXMidBlock3D</c>: two resnets (with spatial norms in the decoder).</summary>
public sealed class CogVideoXMidBlock3D : nn.Module
{
    /// <summary>Resnet blocks.</summary>
    public readonly ModuleList<CogVideoXResnetBlock3D> resnets;

    /// <summary>Creates the block.</summary>
    public CogVideoXMidBlock3D(long channels, int numLayers, int groups, double eps, long? spatialNormDim) : base(nameof(CogVideoXMidBlock3D))
    {
        resnets = new ModuleList<CogVideoXResnetBlock3D>(Enumerable.Range(0, numLayers)
            .Select(_ => new CogVideoXResnetBlock3D(channels, channels, groups, eps, spatialNormDim)).ToArray());
        RegisterComponents();
    }

    /// <summary>Runs the block on (B, C, F, H, W) <paramref name="input"/>; <paramref name="zq"/> are the latents for spatial norms.</summary>
    public Tensor forward(Tensor input, Tensor? zq, CogVideoXConvCache? cache)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var resnet in resnets) x = Blocks.Released(x, resnet.forward(x, zq, cache), input);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>CogVideoXUpBlock3D</c>: resnets with spatial norms, then an optional <see cref="CogVideoXUpsample3D"/>.</summary>
public sealed class CogVideoXUpBlock3D : nn.Module
{
    /// <summary>Resnet blocks.</summary>
    public readonly ModuleList<CogVideoXResnetBlock3D> resnets;
    /// <summary>The upsampler (index 0), or null in the last block.</summary>
    public readonly ModuleList<CogVideoXUpsample3D>? upsamplers;

    /// <summary>Creates the block.</summary>
    public CogVideoXUpBlock3D(long inChannels, long outChannels, int numLayers, int groups, double eps, long spatialNormDim,
        bool addUpsample, bool compressTime) : base(nameof(CogVideoXUpBlock3D))
    {
        resnets = new ModuleList<CogVideoXResnetBlock3D>(Enumerable.Range(0, numLayers)
            .Select(i => new CogVideoXResnetBlock3D(i == 0 ? inChannels : outChannels, outChannels, groups, eps, spatialNormDim)).ToArray());
        if (addUpsample) upsamplers = new ModuleList<CogVideoXUpsample3D>(new CogVideoXUpsample3D(outChannels, outChannels, compressTime));
        RegisterComponents();
    }

    /// <summary>Runs the block on (B, C, F, H, W) <paramref name="input"/> with the latents <paramref name="zq"/>.</summary>
    public Tensor forward(Tensor input, Tensor zq, CogVideoXConvCache? cache)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var resnet in resnets) x = Blocks.Released(x, resnet.forward(x, zq, cache), input);
        if (upsamplers is not null) x = Blocks.Released(x, upsamplers[0].forward(x), input);
        return x.MoveToOuterDisposeScope();
    }
}

internal static class Blocks
{
    /// <summary>
    /// Returns <paramref name="next"/> and frees <paramref name="previous"/> unless it is the caller's
    /// <paramref name="input"/>: intermediates go as soon as they are dead, keeping peak memory to a few activations.
    /// </summary>
    public static Tensor Released(Tensor previous, Tensor next, Tensor input)
    {
        if (!ReferenceEquals(previous, next) && !ReferenceEquals(previous, input)) previous.Dispose();
        return next;
    }
}
