using MotionTune.IO;
using MotionTune.Models.Layers;
using TorchSharp.Modules;
using LayerNorm = MotionTune.Models.Layers.LayerNorm;
using Linear = MotionTune.Models.Layers.Linear;
using static TorchSharp.torch;

namespace MotionTune.Models.Transformers;

/// <summary>
/// diffusers' <c>CogVideoXTransformer3DModel</c> (CogVideoX 1.0: 2B with sin-cos positions, 5B with rotary positions):
/// patch embedding with the text tokens alongside, timestep embedding, blocks of full 3D attention over
/// [text, video], a final norm modulated by the timestep, projection and unpatchify.
/// </summary>
public sealed class CogVideoXTransformer3DModel : nn.Module
{
    /// <summary>Text and patch embedding.</summary>
    public readonly CogVideoXPatchEmbed patch_embed;
    /// <summary>Sinusoidal timestep features (no parameters).</summary>
    public readonly Timesteps time_proj;
    /// <summary>Timestep MLP.</summary>
    public readonly TimestepEmbedding time_embedding;
    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<CogVideoXBlock> transformer_blocks;
    /// <summary>Norm after the last block.</summary>
    public readonly LayerNorm norm_final;
    /// <summary>Timestep-modulated output norm.</summary>
    public readonly AdaLayerNorm norm_out;
    /// <summary>Projection to p · p · out_channels values per token.</summary>
    public readonly Linear proj_out;

    /// <summary>The config the model was built from.</summary>
    public CogVideoXTransformer3DConfig Config { get; }

    /// <summary>Recompute each block in the backward pass instead of keeping its activations (training).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>Creates the model; parameters follow <see cref="ParameterFactory"/>'s scope.</summary>
    /// <exception cref="NotSupportedException">The config asks for CogVideoX 1.5 features (patch_size_t, ofs) or dropout.</exception>
    /// <exception cref="ArgumentException">The config is inconsistent.</exception>
    public CogVideoXTransformer3DModel(CogVideoXTransformer3DConfig config) : base(nameof(CogVideoXTransformer3DModel))
    {
        Validate(config);
        Config = config;
        int dim = config.InnerDim;
        int outChannels = config.OutChannels ?? config.InChannels;

        patch_embed = new CogVideoXPatchEmbed(config);
        time_proj = new Timesteps(dim, config.FlipSinToCos, config.FreqShift);
        time_embedding = new TimestepEmbedding(dim, config.TimeEmbedDim, config.TimestepActivationFn);
        transformer_blocks = new ModuleList<CogVideoXBlock>(
            Enumerable.Range(0, config.NumLayers).Select(_ => new CogVideoXBlock(config)).ToArray());
        norm_final = new LayerNorm(dim, config.NormEps, config.NormElementwiseAffine);
        norm_out = new AdaLayerNorm(config.TimeEmbedDim, 2L * dim, config.NormElementwiseAffine, config.NormEps, chunkDim: 1);
        proj_out = new Linear(dim, (long)config.PatchSize * config.PatchSize * outChannels);
        RegisterComponents();
    }

    /// <summary>
    /// Loads a diffusers <c>transformer</c> folder (config.json + safetensors weights, strict), building the model
    /// uninitialised on <paramref name="device"/> in <paramref name="dtype"/> (default float32) first.
    /// </summary>
    public static CogVideoXTransformer3DModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<CogVideoXTransformer3DConfig>(Path.Combine(folder, "config.json"));
        CogVideoXTransformer3DModel model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false))
            model = new CogVideoXTransformer3DModel(config);
        StateDictLoader.LoadFolder(model, folder);
        return model;
    }

    /// <summary>The dtype of the weights (inputs are cast to it).</summary>
    public ScalarType DType => patch_embed.proj.weight.dtype;

    /// <summary>
    /// Predicts for (B, F, C, H, W) latents <paramref name="hiddenStates"/> (diffusers' layout) with (B, L, text_embed_dim)
    /// <paramref name="encoderHiddenStates"/> at <paramref name="timestep"/> (one per sample, or a scalar); returns
    /// (B, F, out_channels, H, W). 5B models need <paramref name="imageRotaryEmb"/>, the pipeline's (cos, sin) tables
    /// (see <see cref="CogVideoXPositions.RotaryForPipeline"/>).
    /// </summary>
    public Tensor forward(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor timestep, (Tensor Cos, Tensor Sin)? imageRotaryEmb = null)
    {
        CheckInputs(hiddenStates, encoderHiddenStates, timestep, imageRotaryEmb);
        using var scope = NewDisposeScope();
        long b = hiddenStates.shape[0], f = hiddenStates.shape[1];
        long h = hiddenStates.shape[3], w = hiddenStates.shape[4];
        long textLength = encoderHiddenStates.shape[1];

        // Inputs in the weights' dtype: a trainer's noisy latents arrive in float32 while the frozen base may be bf16.
        hiddenStates = hiddenStates.to(DType);
        encoderHiddenStates = encoderHiddenStates.to(DType);

        // 1. Time embedding (the sinusoid is float32; the MLP runs in the model's dtype)
        var t = (timestep.dim() == 0 || timestep.shape[0] == 1 ? timestep.reshape(1).expand(b) : timestep).to(hiddenStates.device);
        var temb = time_embedding.forward(time_proj.forward(t).to(DType));

        // 2. Patch embedding
        var (text, video) = patch_embed.forward(encoderHiddenStates, hiddenStates);

        // 3. Blocks
        CogVideoXRotary? rotary = imageRotaryEmb is { } tables
            ? CogVideoXRotary.Prepare(tables.Cos, tables.Sin, textLength, video.device)
            : null;
        foreach (var block in transformer_blocks)
        {
            Tensor nextVideo, nextText;
            if (GradientCheckpointing && is_grad_enabled())
            {
                // The checkpoint carries one tensor, so the block's two outputs travel joined as [text, video].
                using var joint = GradientCheckpoint.Run(
                    a => JoinedBlock(block, a[0]!, a[1]!, a[2]!, a[3] is null ? null : new CogVideoXRotary(a[3]!, a[4]!)),
                    video, text, temb, rotary?.Cos, rotary?.SinSigned);
                var parts = joint.split([textLength, joint.shape[1] - textLength], 1);
                (nextText, nextVideo) = (parts[0], parts[1]);
            }
            else
            {
                (nextVideo, nextText) = block.forward(video, text, temb, rotary);
            }
            // Release the previous block's outputs now rather than at the end of the pass (autograd keeps what it needs).
            video.Dispose();
            text.Dispose();
            (video, text) = (nextVideo, nextText);
        }

        // 4. Output norm and projection
        video = proj_out.forward(norm_out.forward(norm_final.forward(video), temb));

        // 5. Unpatchify: (B, F·hp·wp, C·p·p) → (B, F, C, H, W)
        int p = Config.PatchSize;
        var output = video.view(b, f, h / p, w / p, -1, p, p).permute(0, 1, 4, 2, 5, 3, 6).reshape(b, f, -1, h, w);
        return output.MoveToOuterDisposeScope();
    }

    private static Tensor JoinedBlock(CogVideoXBlock block, Tensor video, Tensor text, Tensor temb, CogVideoXRotary? rotary)
    {
        var (v, t) = block.forward(video, text, temb, rotary);
        return cat([t, v], 1);
    }

    /// <summary>
    /// Every attention projection LoRA adapts (to_q, to_k, to_v, to_out.0 of attn1 in each block), named as in the
    /// state dict (e.g. <c>transformer_blocks.0.attn1.to_q</c>).
    /// </summary>
    public IEnumerable<(string Name, Linear Layer)> AttentionProjections()
    {
        for (int i = 0; i < transformer_blocks.Count; i++)
        {
            var attention = transformer_blocks[i].attn1;
            var prefix = $"transformer_blocks.{i}.attn1.";
            yield return (prefix + "to_q", attention.to_q);
            yield return (prefix + "to_k", attention.to_k);
            yield return (prefix + "to_v", attention.to_v);
            yield return (prefix + "to_out.0", (Linear)attention.to_out[0]);
        }
    }

    private void CheckInputs(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor timestep, (Tensor Cos, Tensor Sin)? rotary)
    {
        var c = Config;
        if (hiddenStates.dim() != 5 || hiddenStates.shape[2] != c.InChannels)
            throw new ArgumentException($"CogVideoX transformer: hidden_states must be (B, F, {c.InChannels}, H, W), got [{string.Join(", ", hiddenStates.shape)}].");
        if (timestep.dim() > 1 || (timestep.dim() == 1 && timestep.shape[0] != 1 && timestep.shape[0] != hiddenStates.shape[0]))
            throw new ArgumentException($"CogVideoX transformer: timestep must be a scalar or one value per sample, got [{string.Join(", ", timestep.shape)}] for batch {hiddenStates.shape[0]}.");
        if (hiddenStates.shape[3] % c.PatchSize != 0 || hiddenStates.shape[4] % c.PatchSize != 0)
            throw new ArgumentException($"CogVideoX transformer: latent height and width must be multiples of the patch size {c.PatchSize}, got {hiddenStates.shape[3]}x{hiddenStates.shape[4]}.");
        if (encoderHiddenStates.dim() != 3 || encoderHiddenStates.shape[0] != hiddenStates.shape[0] || encoderHiddenStates.shape[2] != c.TextEmbedDim)
            throw new ArgumentException($"CogVideoX transformer: encoder_hidden_states must be ({hiddenStates.shape[0]}, L, {c.TextEmbedDim}), got [{string.Join(", ", encoderHiddenStates.shape)}].");
        if (c.UseRotaryPositionalEmbeddings && rotary is null)
            throw new ArgumentException("CogVideoX transformer: this model uses rotary positions; pass image_rotary_emb (CogVideoXPositions.RotaryForPipeline).");
        if (rotary is { } tables)
        {
            var cos = tables.Cos;
            long tokens = hiddenStates.shape[1] * (hiddenStates.shape[3] / c.PatchSize) * (hiddenStates.shape[4] / c.PatchSize);
            if (cos.dim() != 2 || cos.shape[0] != tokens || cos.shape[1] != c.AttentionHeadDim)
                throw new ArgumentException($"CogVideoX transformer: rotary tables must be ({tokens}, {c.AttentionHeadDim}) for this input, got [{string.Join(", ", cos.shape)}].");
        }
    }

    private static void Validate(CogVideoXTransformer3DConfig c)
    {
        if (c.PatchSizeT is not null)
            throw new NotSupportedException("CogVideoXTransformer3DModel: patch_size_t (CogVideoX 1.5) is not supported.");
        if (c.OfsEmbedDim is > 0)
            throw new NotSupportedException("CogVideoXTransformer3DModel: ofs_embed_dim (CogVideoX 1.5 image-to-video) is not supported.");
        if (c.Dropout != 0)
            throw new NotSupportedException($"CogVideoXTransformer3DModel: dropout {c.Dropout} is not supported (the published models use 0).");
        if (!c.UseRotaryPositionalEmbeddings && c.UseLearnedPositionalEmbeddings)
            throw new ArgumentException("CogVideoXTransformer3DModel: learned positional embeddings without rotary ones match no CogVideoX checkpoint (diffusers refuses them too).");
        if (c.NumAttentionHeads <= 0 || c.AttentionHeadDim <= 0 || c.NumLayers < 0 || c.PatchSize <= 0)
            throw new ArgumentException("CogVideoXTransformer3DModel: heads, head dim and patch size must be positive.");
    }
}
