using MotionTune.Customization;

namespace MotionTune.Pipelines;

/// <summary>When the tokenizer's attention mask goes to the text encoder.</summary>
public enum TextEncoderMask
{
    /// <summary>Never: padding tokens are encoded like any other (ModelScope's CLIP is causal, so real tokens never see them).</summary>
    Never,
    /// <summary>Always (Latte's T5).</summary>
    Always,
    /// <summary>When the text encoder's <c>config.json</c> sets <c>use_attention_mask: true</c> (diffusers' Stable-Diffusion-style pipelines).</summary>
    WhenConfigSays,
}

/// <summary>
/// How a diffusers pipeline turns prompts into what its denoiser is given. The presets are read off diffusers'
/// pipelines; <see cref="PromptEncoder"/> applies them to any tokenizer and text encoder, so a small model of one
/// architecture may use another kind of text encoder than its full-size original.
/// </summary>
public sealed record PromptEncodingRules
{
    /// <summary>Name, for messages.</summary>
    public required string Name { get; init; }

    /// <summary>Token length every prompt is padded or truncated to; null: the tokenizer folder's <c>model_max_length</c>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>When the text encoder sees the attention mask.</summary>
    public TextEncoderMask EncoderMask { get; init; }

    /// <summary>
    /// Whether the denoiser gets a (B, L) keep-mask in <see cref="TextCondition.AttentionMask"/>; also makes the
    /// negative prompt take the conditional prompt's mask (see <see cref="Latte"/>).
    /// </summary>
    public bool MaskToDenoiser { get; init; }

    /// <summary>Whether prompts are lower-cased and stripped first, as Python's <c>text.lower().strip()</c>.</summary>
    public bool LowercaseAndStrip { get; init; }

    /// <summary>
    /// ModelScope (<c>TextToVideoSDPipeline.encode_prompt</c>, which is Stable Diffusion's): the CLIP tokenizer pads to
    /// its <c>model_max_length</c> (77) with the folder's pad token (<c>!</c> for ModelScope's OpenCLIP tokenizer); the
    /// text encoder gets the attention mask only when its config says <c>use_attention_mask</c> (ModelScope's does not);
    /// the UNet gets <c>last_hidden_state</c> and no mask. The negative side is the negative prompt (or "") encoded the same
    /// way. <c>clip_skip</c> is not offered.
    /// </summary>
    public static PromptEncodingRules ModelScope { get; } = new()
    {
        Name = "ModelScope", MaxLength = null, EncoderMask = TextEncoderMask.WhenConfigSays,
    };

    /// <summary>
    /// Latte (<c>LattePipeline.encode_prompt</c> with <c>mask_feature=True</c>): prompts are lower-cased and stripped,
    /// the T5 tokenizer pads to 120, and T5 encodes with the attention mask. The pipeline then trims a single prompt's
    /// embeddings to its real tokens (the negative prompt's embeddings to the same count) and the transformer attends to
    /// every row it is given. We keep all 120 rows and hand the transformer the prompt's (B, L) keep-mask instead:
    /// <c>LatteTransformer3DModel</c> turns it into a −10000 bias on the cross-attention logits, whose softmax weight is 0
    /// in float32, bf16 and fp16 alike, so attending to the kept rows equals attending to the trimmed embeddings. The
    /// negative side keeps the conditional prompt's mask, as the pipeline trims it to the conditional prompt's length
    /// (its own padding rows up to that length stay visible).
    /// <para>
    /// Not reproduced: <c>clean_caption=True</c> (the pipeline's default when <c>bs4</c> and <c>ftfy</c> are installed)
    /// runs DeepFloyd IF's caption cleaner (URL, HTML, CJK and punctuation scrubbing, <c>ftfy.fix_text</c>) before
    /// lower-casing; we lower-case and strip only, which is what the pipeline does without those packages or with
    /// <c>clean_caption=False</c>. Plain captions (words, commas, a final period) come out the same either way except
    /// for the punctuation the cleaner removes. Lower-casing is .NET's invariant lower-casing, which differs from
    /// Python's only for special-cased letters (İ, a word-final Σ). Also not reproduced: with several prompts in one
    /// call (or <c>num_images_per_prompt</c> &gt; 1) the pipeline zeroes the padding rows and lets the transformer attend
    /// to all 120, and leaves the negative unmasked, so its batched results differ from its single-prompt ones; we treat
    /// every prompt as the single-prompt call does.
    /// </para>
    /// </summary>
    public static PromptEncodingRules Latte { get; } = new()
    {
        Name = "Latte", MaxLength = 120, EncoderMask = TextEncoderMask.Always, MaskToDenoiser = true, LowercaseAndStrip = true,
    };

    /// <summary>
    /// CogVideoX (<c>CogVideoXPipeline._get_t5_prompt_embeds</c>): the T5 tokenizer pads to <c>max_sequence_length</c>
    /// (226), T5 encodes WITHOUT the attention mask (padding tokens take part in the encoding, as in CogVideoX's
    /// training), and the transformer attends to all 226 rows. No text preprocessing.
    /// </summary>
    public static PromptEncodingRules CogVideoX { get; } = new()
    {
        Name = "CogVideoX", MaxLength = 226, EncoderMask = TextEncoderMask.Never,
    };

    /// <summary>The preset of an architecture.</summary>
    public static PromptEncodingRules For(Architecture architecture) => architecture switch
    {
        Architecture.ModelScope => ModelScope,
        Architecture.Latte => Latte,
        Architecture.CogVideoX => CogVideoX,
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "no prompt-encoding rules for this architecture."),
    };
}
