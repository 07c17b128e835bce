using MotionTune.Models.TextEncoders;
using MotionTune.Tokenizers;
using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>
/// A tokenizer and a text encoder (CLIP text or T5) applying a pipeline's <see cref="PromptEncodingRules"/>: prompts are
/// preprocessed, tokenized to <see cref="MaxLength"/>, encoded (with or without the attention mask), and the
/// <c>last_hidden_state</c> (B, L, D) is returned in the text encoder's dtype, with the keep-mask where the rules give one
/// to the denoiser. The encoder owns the text encoder model and disposes it.
/// </summary>
public sealed class PromptEncoder : IPromptEncoder
{
    private readonly Func<Tensor, Tensor?, Tensor> _forward;
    private readonly ScalarType _dtype;

    /// <summary>The tokenizer.</summary>
    public TextTokenizer Tokenizer { get; }
    /// <summary>The text encoder (a <see cref="CLIPTextModel"/> or a <see cref="T5EncoderModel"/>).</summary>
    public nn.Module TextEncoder { get; }
    /// <summary>The rules applied.</summary>
    public PromptEncodingRules Rules { get; }
    /// <summary>Whether the text encoder is given the attention mask.</summary>
    public bool EncoderSeesMask { get; }
    /// <inheritdoc />
    public int MaxLength { get; }

    /// <summary>
    /// Encodes with a CLIP text model, taking its <c>last_hidden_state</c>. The length is <paramref name="maxLength"/>,
    /// else the rules', else the tokenizer's <c>model_max_length</c>, else the model's positions; a length that comes from
    /// the rules or the tokenizer is capped at the model's positions (a Latte-rules model with a CLIP text encoder gets 77).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="maxLength"/> exceeds the model's positions.</exception>
    public PromptEncoder(TextTokenizer tokenizer, CLIPTextModel textEncoder, PromptEncodingRules rules, int? maxLength = null)
        : this(tokenizer, textEncoder, rules,
            ClipLength(tokenizer, textEncoder.Config, rules, maxLength),
            rules.EncoderMask == TextEncoderMask.Always || (rules.EncoderMask == TextEncoderMask.WhenConfigSays && textEncoder.Config.UseAttentionMask == true),
            textEncoder.text_model.embeddings.token_embedding.weight.dtype,
            (ids, mask) =>
            {
                using var output = textEncoder.forward(ids, mask);
                return output.LastHiddenState.detach().clone(); // the output record is disposed
            })
    {
    }

    /// <summary>
    /// Encodes with a T5 encoder. The length is <paramref name="maxLength"/>, else the rules', else the tokenizer's
    /// <c>model_max_length</c> (T5's relative positions take any length).
    /// </summary>
    /// <exception cref="ArgumentException">No length is given anywhere.</exception>
    public PromptEncoder(TextTokenizer tokenizer, T5EncoderModel textEncoder, PromptEncodingRules rules, int? maxLength = null)
        : this(tokenizer, textEncoder, rules,
            maxLength ?? rules.MaxLength ?? tokenizer.ModelMaxLength
                ?? throw new ArgumentException($"{rules.Name} prompt encoder: give a max length; neither the rules nor the tokenizer set one.", nameof(maxLength)),
            rules.EncoderMask == TextEncoderMask.Always,
            textEncoder.shared.weight.dtype,
            textEncoder.forward)
    {
    }

    private PromptEncoder(TextTokenizer tokenizer, nn.Module textEncoder, PromptEncodingRules rules, int maxLength, bool encoderSeesMask,
        ScalarType dtype, Func<Tensor, Tensor?, Tensor> forward)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "a prompt needs room for its special tokens.");
        Tokenizer = tokenizer;
        TextEncoder = textEncoder;
        Rules = rules;
        MaxLength = maxLength;
        EncoderSeesMask = encoderSeesMask;
        _dtype = dtype;
        _forward = forward;
    }

    private static int ClipLength(TextTokenizer tokenizer, CLIPTextConfig config, PromptEncodingRules rules, int? requested)
    {
        int positions = config.MaxPositionEmbeddings;
        if (requested is { } explicitLength)
            return explicitLength <= positions ? explicitLength
                : throw new ArgumentException($"{rules.Name} prompt encoder: max length {explicitLength} exceeds the CLIP text model's {positions} positions.", nameof(requested));
        int length = rules.MaxLength ?? tokenizer.ModelMaxLength ?? positions;
        if (length <= positions) return length;
        Log.Info($"{rules.Name} prompt encoder: the CLIP text model has {positions} positions; prompts are cut to {positions} tokens instead of {length}.");
        return positions;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">No prompts, or a null one.</exception>
    public TextCondition Encode(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("No prompts to encode.", nameof(prompts));
        if (prompts.Any(p => p is null)) throw new ArgumentException("A prompt is null; use \"\" for the empty prompt.", nameof(prompts));
        var texts = prompts.Select(Preprocess).ToList();
        WarnIfTruncated(texts);

        using var batch = Tokenizer.Encode(texts, MaxLength);
        using var _ = no_grad();
        var hidden = _forward(batch.InputIds, EncoderSeesMask ? batch.AttentionMask : null);
        if (hidden.dtype != _dtype) hidden = hidden.to(_dtype, disposeAfter: true);
        var mask = Rules.MaskToDenoiser ? batch.AttentionMask.to(ScalarType.Int64, hidden.device, copy: true) : null;
        return new TextCondition(hidden, mask);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">
    /// The counts do not fit (one negative prompt, or one per conditional row), or (Latte's rules) the conditional side
    /// has no mask or another length.
    /// </exception>
    public TextCondition EncodeNegative(IReadOnlyList<string> negativePrompts, TextCondition conditional)
    {
        ArgumentNullException.ThrowIfNull(conditional);
        var encoded = Encode(negativePrompts);
        if (!Rules.MaskToDenoiser) return Batched(encoded, conditional.BatchSize);
        using (encoded.AttentionMask)
        {
            var keep = conditional.AttentionMask;
            if (keep is null || keep.dim() != 2 || keep.shape[1] != encoded.HiddenStates.shape[1])
            {
                encoded.HiddenStates.Dispose();
                throw new ArgumentException(
                    $"{Rules.Name}: the negative prompt takes the conditional prompt's (B, {MaxLength}) keep-mask, and the conditional side has " +
                    (keep is null ? "none." : $"[{string.Join(", ", keep.shape)}]."), nameof(conditional));
            }
            var hidden = Batched(new TextCondition(encoded.HiddenStates), conditional.BatchSize).HiddenStates;
            return new TextCondition(hidden, keep.to(ScalarType.Int64, hidden.device, copy: true));
        }
    }

    /// <summary><paramref name="condition"/> with <paramref name="rows"/> rows; a repeated copy replaces (and frees) a one-row condition.</summary>
    private static TextCondition Batched(TextCondition condition, long rows)
    {
        if (condition.BatchSize == rows) return condition;
        try
        {
            return condition.ForBatch(rows);
        }
        finally
        {
            condition.HiddenStates.Dispose();
            condition.AttentionMask?.Dispose();
        }
    }

    private string Preprocess(string prompt) => Rules.LowercaseAndStrip ? PythonStrip(prompt.ToLowerInvariant()) : prompt;

    /// <summary>Python's <c>str.strip()</c>: its whitespace is .NET's plus the separators U+001C–U+001F.</summary>
    private static string PythonStrip(string text)
    {
        static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';
        int start = 0, end = text.Length;
        while (start < end && IsSpace(text[start])) start++;
        while (end > start && IsSpace(text[end - 1])) end--;
        return text[start..end];
    }

    private void WarnIfTruncated(IEnumerable<string> texts)
    {
        foreach (var text in texts)
        {
            int length = Tokenizer.Encode(text).Length;
            if (length > MaxLength)
                Log.Warning($"{Rules.Name} prompt encoder: the prompt has {length} tokens; only the first {MaxLength} (with the end token) are used: \"{text}\"");
        }
    }

    /// <summary>Frees the text encoder.</summary>
    public void Dispose() => TextEncoder.Dispose();
}
