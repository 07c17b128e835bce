namespace MotionTune.Pipelines;

/// <summary>
/// Turns prompts into the text condition a pipeline's denoiser is given, exactly as the pipeline's diffusers
/// <c>encode_prompt</c> does (tokenizer, text encoder, masks). Disposing it frees the text encoder.
/// </summary>
public interface IPromptEncoder : IDisposable
{
    /// <summary>The token length every prompt is padded or truncated to (the L of the condition's (B, L, D)).</summary>
    int MaxLength { get; }

    /// <summary>Encodes <paramref name="prompts"/>, one row each, on the text encoder's device and in its dtype.</summary>
    TextCondition Encode(IReadOnlyList<string> prompts);

    /// <summary>
    /// The unconditional side of classifier-free guidance for <paramref name="conditional"/>, from
    /// <paramref name="negativePrompts"/> (one, or one per conditional row; "" when there is no negative prompt), as the
    /// pipeline builds it. Most pipelines encode the negative prompt like any other; Latte's masks it like the
    /// conditional prompt (see <see cref="PromptEncodingRules.Latte"/>).
    /// </summary>
    TextCondition EncodeNegative(IReadOnlyList<string> negativePrompts, TextCondition conditional) => Encode(negativePrompts);
}
