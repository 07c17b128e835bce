using MotionTune.Models.Layers;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// What the blocks of <see cref="UNet3DConditionModel"/> share: the options they are built with, and gradient
/// checkpointing of one layer (resnet, temporal convolution and, where present, the spatial and temporal transformers).
/// </summary>
public abstract class UNet3DBlock : nn.Module
{
    /// <summary>Creates the block.</summary>
    protected UNet3DBlock(string name) : base(name) { }

    /// <summary>Recompute each layer's activations in the backward pass instead of keeping them (training).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Runs <paramref name="layer"/> on <paramref name="inputs"/>, checkpointed when <see cref="GradientCheckpointing"/>
    /// is on and there is a gradient to compute. A frozen block fed only by frozen layers is simply run, since
    /// recomputing it in the backward pass would be wasted.
    /// </summary>
    protected Tensor RunLayer(Func<Tensor?[], Tensor> layer, params Tensor?[] inputs)
    {
        bool checkpoint = GradientCheckpointing && is_grad_enabled()
            && (inputs.Any(t => t is { requires_grad: true }) || HasTrainableWeights());
        return checkpoint ? GradientCheckpoint.Run(layer, inputs) : layer(inputs);
    }

    /// <summary>Whether a parameter of the block requires grad, or one of its linears carries an enabled adapter (LoRA).</summary>
    private bool HasTrainableWeights() =>
        parameters().Any(p => p.requires_grad) || modules().OfType<Linear>().Any(l => l.Adapter is { Enabled: true });
}

/// <summary>Construction options shared by the blocks, as diffusers' <c>get_down_block</c>/<c>get_up_block</c> pass them.</summary>
/// <param name="TembChannels">Width of the time embedding.</param>
/// <param name="ResnetEps">Group-norm epsilon of the resnets.</param>
/// <param name="ResnetActFn">Activation of the resnets.</param>
/// <param name="ResnetGroups">Group-norm groups (resnets, temporal convolutions, transformers).</param>
/// <param name="CrossAttentionDim">Width of the text features.</param>
/// <param name="AttentionHeadDim">Per-head width of the spatial and temporal transformers (heads = channels / this).</param>
public sealed record UNet3DBlockOptions(long TembChannels, double ResnetEps, string ResnetActFn, int ResnetGroups,
    long CrossAttentionDim, int AttentionHeadDim)
{
    /// <summary>Dropout of the temporal convolutions (diffusers hard-codes 0.1; active in training mode only).</summary>
    public double TemporalConvDropout { get; init; } = 0.1;

    /// <summary>Heads of a transformer over <paramref name="channels"/> channels.</summary>
    public int HeadsFor(long channels) => channels % AttentionHeadDim == 0
        ? (int)(channels / AttentionHeadDim)
        : throw new ArgumentException($"UNet3D: {channels} channels do not split into heads of width {AttentionHeadDim} (attention_head_dim).");

    internal ResnetBlock2D Resnet(long inChannels, long outChannels, double outputScaleFactor = 1.0) =>
        new(inChannels, outChannels, TembChannels, ResnetGroups, ResnetEps, ResnetActFn, outputScaleFactor);

    internal TemporalConvLayer TemporalConv(long channels) => new(channels, channels, TemporalConvDropout, ResnetGroups);

    internal Transformer2DModel SpatialTransformer(long channels) =>
        new(HeadsFor(channels), AttentionHeadDim, channels, CrossAttentionDim, ResnetGroups, useLinearProjection: true);

    internal TransformerTemporalModel TemporalTransformer(long channels) =>
        new(HeadsFor(channels), AttentionHeadDim, channels, ResnetGroups, CrossAttentionDim);
}

/// <summary>A block of the UNet's contracting path.</summary>
public abstract class UNet3DDownBlock : UNet3DBlock
{
    /// <summary>Creates the block.</summary>
    protected UNet3DDownBlock(string name) : base(name) { }

    /// <summary>
    /// Runs the block on a frame batch (B·F, C, H, W) with the frame-repeated time embedding (B·F, T) and text
    /// (B·F, L, D); appends the states the expanding path reuses to <paramref name="skips"/> and returns the output.
    /// </summary>
    public abstract Tensor forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates, long numFrames, List<Tensor> skips);
}

/// <summary>A block of the UNet's expanding path.</summary>
public abstract class UNet3DUpBlock : UNet3DBlock
{
    /// <summary>Creates the block.</summary>
    protected UNet3DUpBlock(string name) : base(name) { }

    /// <summary>How many skip states the block consumes (one per resnet).</summary>
    public abstract int SkipCount { get; }

    /// <summary>
    /// Runs the block; <paramref name="skips"/> are its <see cref="SkipCount"/> skip states in the order the contracting
    /// path produced them (the last is used first). <paramref name="upsampleSize"/> forces the upsampler's (H, W).
    /// </summary>
    public abstract Tensor forward(Tensor hiddenStates, IReadOnlyList<Tensor> skips, Tensor temb, Tensor? encoderHiddenStates,
        long numFrames, long[]? upsampleSize);
}
