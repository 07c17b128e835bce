using MotionTune.Pipelines;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>The outcome of <see cref="PipelineCustomizer.Train"/>: the trained customization (attached to the pipeline's model) and the run.</summary>
/// <param name="Customization">Attached to the pipeline's model; dispose it to restore the base model.</param>
/// <param name="Result">Losses, resume point, last checkpoint.</param>
/// <param name="Cancelled">True when the run stopped early at a cancellation request.</param>
public sealed record PipelineCustomization(ICustomization Customization, TrainingResult Result, bool Cancelled);

/// <summary>
/// One-shot customization of a loaded <see cref="VideoPipeline"/>: encodes the clip and its caption once, attaches what
/// the options train to the pipeline's denoiser and runs <see cref="MotionCustomizer"/>.
/// </summary>
public static class PipelineCustomizer
{
    /// <summary>The training example: the clip's latents and the caption's condition, each computed once.</summary>
    /// <param name="pipeline">Encodes the clip and the caption.</param>
    /// <param name="frames">(F, H, W, 3) uint8 frames at the size the model is trained at.</param>
    /// <param name="caption">The clip's caption.</param>
    public static TrainingExample Example(VideoPipeline pipeline, Tensor frames, string caption)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(caption);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var latents = pipeline.EncodeFrames(frames).MoveToOuterDisposeScope();
        var condition = pipeline.EncodePrompt(caption);
        var kept = new TextCondition(condition.HiddenStates.MoveToOuterDisposeScope(), condition.AttentionMask?.MoveToOuterDisposeScope());
        return new TrainingExample(latents, kept);
    }

    /// <summary>
    /// Trains a customization of <paramref name="pipeline"/> on <paramref name="frames"/> and <paramref name="caption"/>.
    /// On an exception the customization is removed from the model again.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid options (all named by their flags), or a checkpoint that does not continue this run.</exception>
    public static PipelineCustomization Train(VideoPipeline pipeline, Tensor frames, string caption, CustomizationOptions options,
        Action<TrainingProgress>? progress = null, Action<TrainingValidation>? validate = null, CancellationToken cancellation = default)
    {
        options.Validate(pipeline.Scheduler.Config.NumTrainTimesteps);
        var example = Example(pipeline, frames, caption);
        var customization = options.CreateCustomization(pipeline.Model, pipeline.Architecture, BaseModelName(pipeline));
        try
        {
            var trainer = new MotionCustomizer(pipeline.Denoiser, pipeline.Model, customization, pipeline.Scheduler, options);
            var result = trainer.Train(example, progress, validate, cancellation);
            return new PipelineCustomization(customization, result, result.Losses.Count < options.Steps);
        }
        catch
        {
            customization.Dispose();
            throw;
        }
        finally
        {
            example.Latents.Dispose();
            example.Condition.HiddenStates.Dispose();
            example.Condition.AttentionMask?.Dispose();
        }
    }

    /// <summary>The name recorded as a customization's base model: the pipeline folder's name.</summary>
    public static string BaseModelName(VideoPipeline pipeline) =>
        Path.GetFileName(Path.GetFullPath(pipeline.Folder).TrimEnd(Path.DirectorySeparatorChar)) is { Length: > 0 } name ? name : pipeline.Folder;
}
