using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// A motion customization attached to a model: LoRA adapters (<see cref="LoraNetwork"/>) or tuned weights
/// (<see cref="FullParameterTuning"/>). It switches on and off between sampling steps (<see cref="Pipelines.IAdapterSwitch"/>)
/// and offers its trainable tensors to <see cref="MotionCustomizer"/>.
/// </summary>
/// <remarks>
/// The trainable tensors are float32 whatever the base dtype: a bf16 weight cannot take Adam's small steps (a step of
/// 1e-5 on a weight of size 0.1 is below half of bf16's spacing there and rounds away).
/// </remarks>
public interface ICustomization : Pipelines.IAdapterSwitch, IDisposable
{
    /// <summary><c>lora</c> or <c>full</c>.</summary>
    string Method { get; }

    /// <summary>The boundary timestep it was trained for (acts at t ≥ τ); null when unknown.</summary>
    int? Tau { get; set; }

    /// <summary>The trainable float32 tensors, by the names they are saved under, in a fixed (sorted) order.</summary>
    IReadOnlyList<KeyValuePair<string, Tensor>> TrainableTensors { get; }

    /// <summary>
    /// The loss gradient of <see cref="TrainableTensors"/>[<paramref name="index"/>] after a backward pass (possibly in the
    /// base dtype), or null when none reached it.
    /// </summary>
    Tensor? Gradient(int index);

    /// <summary>Drops the gradients of the last backward pass.</summary>
    void ClearGradients();

    /// <summary>
    /// While training, the flat buffers the trainable tensors and their gradients are views of, when they are packed
    /// (<see cref="FlatParameters"/>): an optimizer then updates <see cref="FlatParameters.Values"/> from
    /// <see cref="FlatParameters.Gradients"/> as one tensor. Null when each tensor stands alone.
    /// </summary>
    FlatParameters? Packed => null;

    /// <summary>
    /// Prepares for training steps: switched on, LoRA unmerged, training mode (dropout), and gradients recorded for the
    /// tensors the forward pass uses. The caller freezes the base model.
    /// </summary>
    void BeginTraining();

    /// <summary>After the optimizer changed <see cref="TrainableTensors"/> in place: makes the model compute with them.</summary>
    void PublishWeights();

    /// <summary>
    /// Seeds the customization's own randomness (LoRA dropout) for the next training step, so steps are reproducible from
    /// (seed, step) alone; a no-op where there is none.
    /// </summary>
    void ReseedDropout(long seed);

    /// <summary>Leaves training: inference mode.</summary>
    void EndTraining();

    /// <summary>Writes the customization file (atomically), with its settings and τ as metadata.</summary>
    void Save(string path);
}
