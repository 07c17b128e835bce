using MotionTune.IO;
using MotionTune.Models.Layers;
using Parameter = TorchSharp.Modules.Parameter;
using Linear = MotionTune.Models.Layers.Linear;
using LayerNorm = MotionTune.Models.Layers.LayerNorm;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Models.Transformers;

/// <summary>
/// diffusers' <c>LatteTransformer3DModel</c> (Latte-1): every frame is cut into patches with 2D sin-cos positions;
/// then layer i runs a spatial block over the patches of each frame (self-attention, cross-attention to the projected
/// T5 caption) and a temporal block over the frames of each patch position (self-attention; a 1D sin-cos frame
/// position is added before the first). All blocks are modulated by one adaLN-single timestep embedding. A final
/// modulated norm and projection give 2·C channels per pixel when <c>out_channels</c> = 2·<c>in_channels</c>
/// (noise, then the learned variance): samplers use the first C.
/// </summary>
public sealed class LatteTransformer3DModel : nn.Module, IGradientCheckpointing
{
    /// <summary>Patchify + 2D positions.</summary>
    public readonly PatchEmbed pos_embed;
    /// <summary>Spatial blocks (attention within a frame, cross-attention to the caption).</summary>
    public readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    /// <summary>Temporal blocks (attention across frames at one patch position).</summary>
    public readonly ModuleList<BasicTransformerBlock> temporal_transformer_blocks;
    /// <summary>Final norm (no affine parameters).</summary>
    public readonly LayerNorm norm_out;
    /// <summary>(2, dim) learned offsets of the final shift and scale.</summary>
    public readonly Parameter scale_shift_table;
    /// <summary>dim → p·p·out_channels.</summary>
    public readonly Linear proj_out;
    /// <summary>Timestep embedding and the per-block modulation.</summary>
    public readonly AdaLayerNormSingle adaln_single;
    /// <summary>Caption features → token width.</summary>
    public readonly PixArtAlphaTextProjection caption_projection;

    private readonly TensorCache _framePositions = new();

    /// <summary>The config the model was built from.</summary>
    public LatteTransformer3DConfig Config { get; }

    /// <summary>
    /// Recompute each block's activations in the backward pass instead of keeping them (only while gradients are
    /// recorded): about one more forward pass of compute for much less activation memory when training.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>Builds the model; parameters follow the current <see cref="ParameterFactory"/> scope.</summary>
    /// <exception cref="ArgumentException">The config is incomplete or unsupported.</exception>
    public LatteTransformer3DModel(LatteTransformer3DConfig config) : base(nameof(LatteTransformer3DModel))
    {
        config.Validate();
        Config = config;
        long dim = config.InnerDim;
        int patch = config.PatchSize!.Value;

        // diffusers: sample 64 (512 px) has interpolation scale 1; integer division as in Python.
        int interpolationScale = Math.Max(config.SampleSize / 64, 1);
        pos_embed = new PatchEmbed(config.SampleSize, config.SampleSize, patch, config.InChannels!.Value, dim, interpolationScale);

        TransformerBlockOptions Blocks(long? crossAttentionDim) => new()
        {
            CrossAttentionDim = crossAttentionDim,
            ActivationFn = config.ActivationFn,
            AttentionBias = config.AttentionBias,
            NormType = config.NormType,
            NormElementwiseAffine = config.NormElementwiseAffine,
            NormEps = config.NormEps,
        };
        var spatial = Blocks(config.CrossAttentionDim);
        var temporal = Blocks(null);
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, config.NumLayers)
            .Select(_ => new BasicTransformerBlock(dim, config.NumAttentionHeads, config.AttentionHeadDim, spatial)).ToArray());
        temporal_transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, config.NumLayers)
            .Select(_ => new BasicTransformerBlock(dim, config.NumAttentionHeads, config.AttentionHeadDim, temporal)).ToArray());

        norm_out = new LayerNorm(dim, 1e-6, elementwiseAffine: false);
        scale_shift_table = ParameterFactory.Create([2, dim], t => t.normal_(0, 1).div_(Math.Sqrt(dim)));
        proj_out = new Linear(dim, (long)patch * patch * config.OutputChannels);
        adaln_single = new AdaLayerNormSingle(dim);
        caption_projection = new PixArtAlphaTextProjection(config.CaptionChannels!.Value, dim);
        RegisterComponents();
    }

    /// <summary>
    /// Reads <c>config.json</c> and the safetensors weights of a diffusers <c>transformer</c> folder (strict).
    /// </summary>
    /// <param name="folder">The folder holding config.json and diffusion_pytorch_model(.safetensors | .safetensors.index.json).</param>
    /// <param name="device">Where the weights go (CPU by default).</param>
    /// <param name="dtype">Weight dtype (float32 by default); checkpoint tensors are converted as they are copied.</param>
    public static LatteTransformer3DModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<LatteTransformer3DConfig>(Path.Combine(folder, "config.json"));
        LatteTransformer3DModel model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false))
            model = new LatteTransformer3DModel(config);
        StateDictLoader.LoadFolder(model, folder);
        return model;
    }

    /// <summary>
    /// Predicts noise (and the learned variance) for latent videos.
    /// </summary>
    /// <param name="sample">Latents (B, C, F, H, W), H and W multiples of the patch size; F = video_length or 1.</param>
    /// <param name="timestep">Diffusion timesteps, one per sample (B), or a scalar for all.</param>
    /// <param name="encoderHiddenStates">Text encoder features (B, L, caption_channels).</param>
    /// <param name="encoderAttentionMask">
    /// Optional text mask: (B, L) with 1/true = keep, 0/false = discard, or an additive bias (B, 1, L) (0 keep,
    /// −10000 discard). A (B, L) mask becomes the bias (1 − mask)·(−10000), PixArt's convention; diffusers' Latte
    /// passes masks through unconverted and its pipeline trims padding tokens instead.
    /// </param>
    /// <param name="enableTemporalAttentions">False skips every temporal block (and the frame positions).</param>
    /// <returns>(B, out_channels, F, H, W) in the weights' dtype.</returns>
    /// <exception cref="ArgumentException">Shapes do not fit the config or each other.</exception>
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? encoderAttentionMask = null,
        bool enableTemporalAttentions = true)
    {
        CheckInputs(sample, timestep, encoderHiddenStates);
        using var scope = NewDisposeScope();
        long batch = sample.shape[0], frames = sample.shape[2];
        int patch = Config.PatchSize!.Value;
        long rows = sample.shape[3] / patch, cols = sample.shape[4] / patch, patches = rows * cols;

        // 1. Tokens (B·F, N, D), frames of a video consecutive
        var x = pos_embed.forward(sample);
        var dtype = x.dtype;

        // 2. Conditions, once per sample: the blocks broadcast them over a sample's frames or patch positions
        var steps = timestep.dim() == 0 ? timestep.expand(batch) : timestep;
        var (modulation, embeddedTimestep) = adaln_single.Embed(steps.to(x.device));
        var text = caption_projection.forward(encoderHiddenStates.to(dtype, x.device));
        var textBias = CrossAttentionBias(encoderAttentionMask, batch, encoderHiddenStates.shape[1], dtype, x.device);

        // 3. Spatial and temporal blocks
        for (int i = 0; i < transformer_blocks.Count; i++)
        {
            x = RunBlock(transformer_blocks[i], x, text, textBias, modulation);
            if (!enableTemporalAttentions) continue;

            x = FramesOfPatches(x, batch, frames, patches);
            if (i == 0 && frames > 1) x = x + FramePositions(x.device, dtype);
            x = RunBlock(temporal_transformer_blocks[i], x, null, null, modulation);
            x = PatchesOfFrames(x, batch, frames, patches);
        }

        // 4. Final modulated norm and projection, per sample over all its tokens
        var shiftScale = (scale_shift_table.unsqueeze(0) + embeddedTimestep.unsqueeze(1)).chunk(2, 1);
        var h = norm_out.forward(x.reshape(batch, frames * patches, -1));
        h = proj_out.forward(shiftScale[0].addcmul(h, 1 + shiftScale[1], 1));

        // 5. Unpatchify (B, F·h·w, p·p·C) → (B, C, F, h·p, w·p) in one copy
        long channels = Config.OutputChannels;
        var output = h.view(batch, frames, rows, cols, patch, patch, channels)
            .permute(0, 6, 1, 2, 4, 3, 5)
            .reshape(batch, channels, frames, rows * patch, cols * patch);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The temporal attention projections (to_q, to_k, to_v, to_out.0 of attn1/attn2 in every temporal block),
    /// named as in the state dict (e.g. <c>temporal_transformer_blocks.0.attn1.to_q</c>): the layers motion LoRAs train.
    /// </summary>
    public IEnumerable<(string Name, Linear Layer)> TemporalAttentionProjections()
    {
        for (int i = 0; i < temporal_transformer_blocks.Count; i++)
        {
            var block = temporal_transformer_blocks[i];
            foreach (var (attentionName, attention) in new[] { ("attn1", block.attn1), ("attn2", block.attn2) })
            {
                if (attention is null) continue;
                var prefix = $"temporal_transformer_blocks.{i}.{attentionName}";
                yield return ($"{prefix}.to_q", attention.to_q);
                yield return ($"{prefix}.to_k", attention.to_k);
                yield return ($"{prefix}.to_v", attention.to_v);
                yield return ($"{prefix}.to_out.0", (Linear)attention.to_out[0]);
            }
        }
    }

    private Tensor RunBlock(BasicTransformerBlock block, Tensor x, Tensor? text, Tensor? textBias, Tensor modulation) =>
        GradientCheckpointing
            ? GradientCheckpoint.Run(a => block.forward(a[0]!, a[1], a[2], a[3]), x, text, textBias, modulation)
            : block.forward(x, text, textBias, modulation);

    // The layout changes copy exactly once (reshape alone would return a strided view when B = 1, and every
    // following per-token op would then work on, or copy, a strided tensor).

    /// <summary>(B·F, N, D) → (B·N, F, D), contiguous.</summary>
    private static Tensor FramesOfPatches(Tensor x, long batch, long frames, long patches) =>
        x.view(batch, frames, patches, -1).transpose(1, 2).contiguous().view(batch * patches, frames, -1);

    /// <summary>(B·N, F, D) → (B·F, N, D), contiguous.</summary>
    private static Tensor PatchesOfFrames(Tensor x, long batch, long frames, long patches) =>
        x.view(batch, patches, frames, -1).transpose(1, 2).contiguous().view(batch * frames, patches, -1);

    /// <summary>(1, video_length, D) 1D sin-cos frame positions (diffusers' non-persistent <c>temp_pos_embed</c>).</summary>
    private Tensor FramePositions(Device device, ScalarType dtype) =>
        _framePositions.Get(Config.VideoLength, device, dtype,
            () => SinCosPositions.OneD(Config.InnerDim, Config.VideoLength).unsqueeze(0));

    private static Tensor? CrossAttentionBias(Tensor? mask, long batch, long textLength, ScalarType dtype, Device device)
    {
        if (mask is null) return null;
        Tensor bias;
        if (mask.dim() == 2 && mask.shape[0] == batch && mask.shape[1] == textLength)
            bias = (1 - mask.to(dtype, device)) * -10000.0;
        else if (mask.dim() == 3 && mask.shape[0] == batch && mask.shape[1] == 1 && mask.shape[2] == textLength)
            bias = mask.to(dtype, device);
        else
            throw new ArgumentException(
                $"LatteTransformer3DModel: encoder attention mask [{string.Join(", ", mask.shape)}] must be ({batch}, {textLength}) or ({batch}, 1, {textLength}).");
        return bias.view(batch, 1, 1, textLength);
    }

    private void CheckInputs(Tensor sample, Tensor timestep, Tensor encoderHiddenStates)
    {
        string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
        int patch = Config.PatchSize!.Value;
        if (sample.dim() != 5 || sample.shape[1] != Config.InChannels)
            throw new ArgumentException($"LatteTransformer3DModel: sample must be (B, {Config.InChannels}, F, H, W), got {Shape(sample)}.");
        long batch = sample.shape[0], frames = sample.shape[2];
        if (sample.shape[3] % patch != 0 || sample.shape[4] % patch != 0)
            throw new ArgumentException($"LatteTransformer3DModel: latent size {sample.shape[3]}x{sample.shape[4]} is not a multiple of the patch size {patch}.");
        if (frames > 1 && frames != Config.VideoLength)
            throw new ArgumentException(
                $"LatteTransformer3DModel: {frames} frames, but the frame positions cover video_length = {Config.VideoLength} (use {Config.VideoLength} frames, or 1).");
        if (!(timestep.dim() == 0 || (timestep.dim() == 1 && timestep.shape[0] == batch)))
            throw new ArgumentException($"LatteTransformer3DModel: timestep must be a scalar or ({batch}), got {Shape(timestep)}.");
        if (encoderHiddenStates.dim() != 3 || encoderHiddenStates.shape[0] != batch || encoderHiddenStates.shape[2] != Config.CaptionChannels)
            throw new ArgumentException(
                $"LatteTransformer3DModel: encoder hidden states must be ({batch}, L, {Config.CaptionChannels}), got {Shape(encoderHiddenStates)}.");
    }
}
