using System.Globalization;
using System.Text;
using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>The README.md model card of a trained base model: what it is, how it was trained, and what it measured.</summary>
public static class BaseModelCard
{
    /// <summary>The card's Markdown.</summary>
    public static string Write(BaseModelSpec spec, BaseTrainingOptions options, BaseTrainingResult result, long denoiserParameters, long textParameters,
        string device, double peakLr, ScalarType dtype, int poolClips, int distinctClips)
    {
        var c = CultureInfo.InvariantCulture;
        var d = spec.Defaults;
        var name = BaseModels.Name(spec.Architecture);
        var md = new StringBuilder();
        void Line(FormattableString text) => md.Append(text.ToString(c)).Append('\n');

        Line($"# MotionTune ShapesWorld base model: {name}");
        Line($"");
        if (spec.Vae is { } vae)
        {
            int side = d.Height / spec.SpatialCompression;
            Line($"A small {Describe(spec)} trained from scratch on ShapesWorld (`docs/shapesworld.md`), on the latents of a small KL VAE");
            Line($"(`vae/`, diffusers AutoencoderKL, {vae.LatentChannels} x {side} x {side} per frame, trained beforehand with `motiontune shapes train-vae`;");
            Line($"its card is `vae/README.md`): it generates {d.Frames} frames of {d.Width} x {d.Height} RGB. It is built from the same classes as the full-size");
        }
        else
        {
            Line($"A small {Describe(spec)} trained from scratch on ShapesWorld (`docs/shapesworld.md`), in pixel space: it generates");
            Line($"{d.Frames} frames of {d.Width} x {d.Height} RGB directly (no VAE). It is built from the same classes as the full-size");
        }
        Line($"model (`{spec.DenoiserClass}`), with a small transformers `CLIPTextModel` text encoder trained jointly and a CLIP BPE");
        Line($"tokenizer whose merges make every ShapesWorld caption word one token. Load it with `VideoPipeline.FromPretrained`.");
        Line($"");
        Line($"| part | |");
        Line($"|---|---|");
        Line($"| denoiser | `{spec.DenoiserComponent}/` {spec.DenoiserClass}, {denoiserParameters:N0} parameters |");
        Line($"| text encoder | `text_encoder/` CLIPTextModel ({spec.TextConfig.NumHiddenLayers} layers, width {spec.TextConfig.HiddenSize}), {textParameters:N0} parameters |");
        Line($"| tokenizer | `tokenizer/` CLIPTokenizer, {spec.TextConfig.VocabSize} tokens, {spec.MaxLength} positions |");
        Line($"| scheduler | `scheduler/` {spec.Scheduler.ClassName}: {spec.Scheduler.BetaSchedule}, {spec.Scheduler.PredictionType}, {spec.Scheduler.TimestepSpacing} spacing{(spec.Scheduler.RescaleBetasZeroSnr ? ", zero terminal SNR" : "")} |");
        if (spec.Vae is { } v)
            Line($"| VAE | `vae/` AutoencoderKL ({string.Join("/", v.BlockOutChannels)} channels, factor {spec.SpatialCompression}, scaling factor {v.ScalingFactor}), frozen during training, float32 |");
        Line($"| weights | fp16 safetensors, {result.SizeBytes / 1048576.0:F1} MiB in all |");
        Line($"| defaults | {d.Frames} frames, {d.Width} x {d.Height}, {d.Steps} DDIM steps, guidance {d.GuidanceScale} |");
        Line($"");
        Line($"## Training data");
        Line($"");
        Line($"`ShapesDataset(seed {options.Seed})`, training split: one object (5 shapes, 8 colours) on one of 5 backgrounds, moving by one of");
        Line($"the {MotionLibrary.All.Count} library motions with random extent and phase, captioned like \"a red circle moving left on a white background\".");
        Line($"The 20 held-out (shape, colour, background) triples never appear in training. Clips were rendered on the training device");
        Line($"into a pool of {poolClips:N0}, refreshed as training went; {distinctClips:N0} distinct clips were rendered in all.");
        Line($"");
        Line($"## Training");
        Line($"");
        Line($"| | |");
        Line($"|---|---|");
        Line($"| command | `{options.Command ?? "(library call)"}` |");
        Line($"| device | {device}, {dtype} compute with float32 master weights |");
        if (options.InitFrom is not null && result.Prior.Runs == 0)
            Line($"| continued from | a folder whose training is not recorded (no `_motiontune_training` in its model_index.json); the figures below count this run only |");
        if (result.Prior.Runs > 0)
        {
            Line($"| continued from | a folder of the same spec trained for {result.Prior.Steps:N0} steps ({result.Prior.Clips:N0} clips) in {result.Prior.Minutes:F1} min over {result.Prior.Runs} run(s); its weights started this run, with a fresh optimizer, EMA and warm-up |");
            Line($"| steps | {result.Steps:N0} at batch {options.Batch} in this run; {result.Record.Steps:N0} in all ({result.Record.Clips:N0} clips) |");
            Line($"| wall time | {result.TrainingSeconds / 60:F1} min training in this run ({result.TotalSeconds / 60:F1} min with rendering and evaluation); {result.Record.Minutes:F1} min of training in all |");
        }
        else
        {
            Line($"| steps | {result.Steps:N0} at batch {options.Batch} |");
            Line($"| wall time | {result.TrainingSeconds / 60:F1} min training, {result.TotalSeconds / 60:F1} min in all (rendering and evaluation included) |");
        }
        Line($"| loss | {result.FinalLoss:F4} (MSE to the {spec.Scheduler.PredictionType} target, mean of the last logging window) |");
        Line($"| optimizer | AdamW, peak lr {peakLr:0.###e+0}, {options.WarmupSteps} warm-up steps then cosine to a tenth, weight decay {options.WeightDecay}, gradient norm clipped at {options.MaxGradNorm} |");
        Line($"| conditioning | {options.CaptionDropout * 100:0}% of captions replaced by the empty caption (for classifier-free guidance) |");
        if (options.LossWeighting == LossWeighting.Epsilon && spec.Scheduler.PredictionType == "v_prediction")
            Line($"| loss weighting | v errors weighted by ᾱ_t (the ε-prediction loss) |");
        if (options.NoiseOffset > 0)
            Line($"| noise | offset noise: a per-clip, per-channel constant of standard deviation {options.NoiseOffset} added to the training noise |");
        Line($"| EMA | {(options.EmaDecay > 0 ? $"decay {options.EmaDecay}" : "none")}; kept: {result.Weights} weights |");
        Line($"| seed | {options.Seed} |");
        Line($"");
        Line($"## Evaluation");
        Line($"");
        Line($"The base-model quality gates (docs/shapesworld.md), measured by `motiontune shapes evaluate-base` on this folder: {result.Evaluation.Accuracy.Clips} clips, one per");
        Line($"caption of a held-out appearance triple naming a library motion (seed {result.Evaluation.Seed}), {result.Evaluation.Steps} steps, guidance {result.Evaluation.GuidanceScale},");
        Line($"read with the exact ShapesWorld metrics (`CaptionAccuracy`). Colour, background and shape are shares of frames; motion is the share");
        Line($"of clips whose centroid path is classified as the captioned motion.");
        Line($"");
        Line($"| gate | measured | threshold | |");
        Line($"|---|---|---|---|");
        foreach (var g in result.Evaluation.Gates)
            Line($"| {g.Name} | {g.Value * 100:F1}% | {g.Threshold * 100:F0}% | {(g.Passed ? "pass" : "**fail**")} |");
        Line($"");
        Line($"Weights and guidance were chosen on another {result.Candidates[0].Evaluation.Accuracy.Clips} held-out captions (seed {result.Candidates[0].Evaluation.Seed}):");
        Line($"");
        Line($"| weights | guidance | colour | background | shape | motion |");
        Line($"|---|---|---|---|---|---|");
        foreach (var (weights, e) in result.Candidates)
        {
            var a = e.Accuracy;
            Line($"| {weights} | {e.GuidanceScale} | {a.Colour * 100:F1}% | {a.Background * 100:F1}% | {a.Shape * 100:F1}% | {a.Motion * 100:F1}% |");
        }
        Line($"");
        Line($"Per-clip readings: `evaluation.json`.");
        return md.ToString();
    }

    private static string Describe(BaseModelSpec spec) => spec.DenoiserConfig switch
    {
        UNet3DConditionConfig u => $"ModelScope-style UNet3D (channels {string.Join("/", u.BlockOutChannels)}, {u.LayersPerBlock} layer per block)",
        LatteTransformer3DConfig l => $"Latte-style transformer ({l.NumLayers} spatial/temporal block pairs, width {l.InnerDim}, patch {l.PatchSize})",
        CogVideoXTransformer3DConfig x => $"CogVideoX-style transformer ({x.NumLayers} blocks of 3D attention, width {x.InnerDim}, patch {x.PatchSize})",
        _ => spec.DenoiserClass,
    };
}
