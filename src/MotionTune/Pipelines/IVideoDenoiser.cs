using static TorchSharp.torch;

namespace MotionTune.Pipelines;

/// <summary>
/// A text encoder's output for a batch of prompts, as a denoiser consumes it.
/// </summary>
/// <param name="HiddenStates">(B, L, D) token embeddings (padded to the encoder's fixed length, so conditions concatenate).</param>
/// <param name="AttentionMask">Optional (B, L) mask, 1 for real tokens; null when the model attends to every token.</param>
public sealed record TextCondition(Tensor HiddenStates, Tensor? AttentionMask = null)
{
    /// <summary>Number of prompts.</summary>
    public long BatchSize => HiddenStates.shape[0];

    /// <summary>
    /// The condition for <paramref name="batchSize"/> samples: itself when the sizes agree, repeated when it holds one prompt.
    /// </summary>
    /// <exception cref="ArgumentException">Another batch size.</exception>
    public TextCondition ForBatch(long batchSize)
    {
        if (BatchSize == batchSize) return this;
        if (BatchSize != 1)
            throw new ArgumentException($"A text condition of {BatchSize} prompts cannot condition a batch of {batchSize} latents.");
        return new(RepeatBatch(HiddenStates, batchSize), AttentionMask is null ? null : RepeatBatch(AttentionMask, batchSize));
    }

    /// <summary>
    /// <paramref name="first"/>'s prompts then <paramref name="second"/>'s along the batch, as diffusers pipelines batch
    /// <c>[negative, positive]</c> for classifier-free guidance. A missing mask on one side is all ones.
    /// </summary>
    /// <exception cref="ArgumentException">The token lengths or widths differ.</exception>
    public static TextCondition Concat(TextCondition first, TextCondition second)
    {
        var a = first.HiddenStates;
        var b = second.HiddenStates;
        if (a.dim() != b.dim() || !a.shape.Skip(1).SequenceEqual(b.shape.Skip(1)))
            throw new ArgumentException(
                $"Cannot batch text conditions of shapes [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}]: " +
                "pad both prompts to the encoder's fixed length.");
        var hidden = cat([a, b.to(a.dtype, a.device)]);
        if (first.AttentionMask is null && second.AttentionMask is null) return new(hidden);
        var maskA = first.AttentionMask ?? ones(a.shape[0], a.shape[1], dtype: second.AttentionMask!.dtype, device: a.device);
        var maskB = second.AttentionMask ?? ones(b.shape[0], b.shape[1], dtype: maskA.dtype, device: a.device);
        return new(hidden, cat([maskA, maskB.to(maskA.dtype, maskA.device)]));
    }

    private static Tensor RepeatBatch(Tensor t, long batchSize)
    {
        var repeats = new long[t.dim()];
        Array.Fill(repeats, 1L);
        repeats[0] = batchSize;
        return t.repeat(repeats);
    }
}

/// <summary>
/// A text-conditioned video denoiser, the one thing the sampler needs from a model pipeline (ModelScope's UNet3D,
/// Latte, CogVideoX). Latents are in the canonical layout (B, C, F, H, W); a model that works in another layout
/// (CogVideoX: B, F, C, H, W) permutes inside <see cref="Predict"/>.
/// </summary>
public interface IVideoDenoiser
{
    /// <summary>
    /// The model's prediction for noisy <paramref name="latents"/> (B, C, F, H, W) at <paramref name="timesteps"/> (B,
    /// int64), conditioned on <paramref name="condition"/> (B prompts). It returns what the scheduler's
    /// <c>prediction_type</c> names (ε, v or x₀) with the latents' shape, so learned-variance channels (Latte) are dropped
    /// here. The returned tensor belongs to the caller.
    /// </summary>
    Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition);
}

/// <summary>
/// Turns a model's adapters (LoRA) on or off between sampling steps, so customized sampling can apply them only at
/// t ≥ τ.
/// </summary>
public interface IAdapterSwitch
{
    /// <summary>Whether the adapters contribute to the model's outputs now.</summary>
    bool Active { get; set; }
}
