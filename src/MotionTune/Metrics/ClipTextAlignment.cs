using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>
/// CLIP text alignment: how well a video's frames match a prompt,
/// <code>TextAlignment = (1/F) Σ_f 100 · cos(E_img(frame_f), E_txt(prompt))</code>
/// with the embeddings of CLIP ViT-L/14 (<c>openai/clip-vit-large-patch14</c>): <c>get_image_features</c> and
/// <c>get_text_features</c>, each divided by its L2 norm.
/// <para>
/// Sources. Baherwani, Ren and Shrivastava, section 4.1: "We compute the frame-wise CLIP Score [12] between generated
/// frames and the edited prompt, and average the scores over frames and samples" (Table 2 reports 25–32). The scale is
/// the LOVEU-TGVE 2023 convention (<c>showlab/loveu-tgve-2023</c>, <c>scripts/run_eval.py</c>,
/// <c>clip_score_text</c>): the mean of <c>CLIPModel(...).logits_per_image</c> for ViT-L/14, i.e.
/// exp(logit_scale) · cos, and ViT-L/14's exp(logit_scale) is 100 (up to float rounding). It is not Hessel et al.'s
/// CLIPScore (2.5 · max(cos, 0) with an "A photo depicts" prefix): no clamp, no prefix.
/// </para>
/// <para>
/// Differences from the TGVE script: it resizes each frame to 480 × 480 with PIL before the processor; here frames go to
/// the processor as they are (resize the video first to match it). Its transformers 4 processor is the PIL backend; the
/// default here is transformers 5's torchvision backend (<see cref="ClipMetricModelOptions.Backend"/> selects PIL).
/// Prompts longer than 77 tokens are truncated here (the script would fail on them).
/// </para>
/// </summary>
public static class ClipTextAlignment
{
    /// <summary>The score scale: 100 · cosine.</summary>
    public const double Scale = 100;

    /// <summary>Text alignment of (F, H, W, 3) uint8 frames with <paramref name="prompt"/>; per-frame values included.</summary>
    /// <exception cref="ArgumentException">Not (F, H, W, 3) uint8 frames, or none.</exception>
    public static FrameScores Compute(ClipMetricModel clip, Tensor frames, string prompt)
    {
        ArgumentNullException.ThrowIfNull(clip);
        ArgumentNullException.ThrowIfNull(prompt);
        ClipMetricModel.CheckFrames(frames, minimum: 1, "CLIP text alignment");
        using var images = clip.ImageEmbeddings(frames);
        using var text = clip.TextEmbeddings([prompt]);
        return FromEmbeddings(images, text);
    }

    /// <summary>Text alignment of a clip's frames with <paramref name="prompt"/>.</summary>
    public static FrameScores Compute(ClipMetricModel clip, VideoClip video, string prompt) => Compute(clip, video.Frames, prompt);

    /// <summary>
    /// The score from unit-length embeddings: <paramref name="imageEmbeddings"/> (F, D) and <paramref name="textEmbedding"/>
    /// (1, D) or (D), as <see cref="ClipMetricModel"/> gives them.
    /// </summary>
    public static FrameScores FromEmbeddings(Tensor imageEmbeddings, Tensor textEmbedding) =>
        FrameScores.Of(Cosines(imageEmbeddings, textEmbedding).Select(c => Scale * c).ToArray());

    /// <summary>cos(image_f, text) for each frame, in float64 from float32 unit vectors.</summary>
    internal static double[] Cosines(Tensor imageEmbeddings, Tensor textEmbedding)
    {
        if (imageEmbeddings.dim() != 2 || textEmbedding.numel() != imageEmbeddings.shape[1])
            throw new ArgumentException(
                $"expected (F, D) image and (1, D) text embeddings, got [{string.Join(", ", imageEmbeddings.shape)}] and [{string.Join(", ", textEmbedding.shape)}].");
        using var scope = NewDisposeScope();
        var cosines = imageEmbeddings.to(ScalarType.Float32).matmul(textEmbedding.reshape(-1).to(ScalarType.Float32, imageEmbeddings.device));
        return cosines.to(ScalarType.Float64).cpu().data<double>().ToArray();
    }
}
