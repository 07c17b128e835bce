using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>
/// PickScore: a human-preference estimate of how well a video's frames match a prompt,
/// <code>PickScore = (1/F) Σ_f exp(logit_scale) · cos(E_img(frame_f), E_txt(prompt))</code>
/// with the PickScore model (<c>yuvalkirstain/PickScore_v1</c>, a CLIP ViT-H/14 <c>CLIPModel</c> fine-tuned on
/// Pick-a-Pic) and its learned temperature exp(logit_scale) (read from the checkpoint, see
/// <see cref="ClipMetricModel.LogitScale"/>).
/// <para>
/// Sources. Kirstain et al., <i>Pick-a-Pic: An Open Dataset of User Preferences for Text-to-Image Generation</i>
/// (NeurIPS 2023, arXiv:2305.01569), section 4: s(x, y) = E_txt(x) · E_img(y) · T, unit-length embeddings scaled by the
/// learned temperature T. The reference code (the PickScore README, and <c>pick_score</c> in the LOVEU-TGVE 2023
/// <c>scripts/run_eval.py</c>) takes the processor of <c>laion/CLIP-ViT-H-14-laion2B-s32B-b79K</c> (set
/// <see cref="ClipMetricModelOptions.ProcessorFolder"/> if the PickScore folder lacks its own), truncates the prompt at 77
/// tokens, and averages <c>logit_scale.exp() * (text_embs @ image_embs.T)</c> over the frames. Baherwani, Ren and
/// Shrivastava, section 4.1: "Frame-level scores are averaged over each video and then across samples" (Table 2: 19–22).
/// </para>
/// </summary>
public static class PickScore
{
    /// <summary>PickScore of (F, H, W, 3) uint8 frames with <paramref name="prompt"/>; per-frame values included.</summary>
    /// <exception cref="ArgumentException">Not (F, H, W, 3) uint8 frames, or none.</exception>
    public static FrameScores Compute(ClipMetricModel pickScoreModel, Tensor frames, string prompt)
    {
        ArgumentNullException.ThrowIfNull(pickScoreModel);
        ArgumentNullException.ThrowIfNull(prompt);
        ClipMetricModel.CheckFrames(frames, minimum: 1, "PickScore");
        using var images = pickScoreModel.ImageEmbeddings(frames);
        using var text = pickScoreModel.TextEmbeddings([prompt]);
        return FromEmbeddings(images, text, pickScoreModel.LogitScale);
    }

    /// <summary>PickScore of a clip's frames with <paramref name="prompt"/>.</summary>
    public static FrameScores Compute(ClipMetricModel pickScoreModel, VideoClip video, string prompt) =>
        Compute(pickScoreModel, video.Frames, prompt);

    /// <summary>The score from unit-length embeddings (F, D) and (1, D) and the temperature exp(logit_scale).</summary>
    public static FrameScores FromEmbeddings(Tensor imageEmbeddings, Tensor textEmbedding, double logitScale) =>
        FrameScores.Of(ClipTextAlignment.Cosines(imageEmbeddings, textEmbedding).Select(c => logitScale * c).ToArray());
}
