namespace MotionTune.Models.Layers;

/// <summary>
/// A model that can recompute its blocks' activations in the backward pass instead of keeping them
/// (<see cref="GradientCheckpoint"/>), so training loops can switch it without knowing the model.
/// </summary>
public interface IGradientCheckpointing
{
    /// <summary>Whether blocks are checkpointed while gradients are recorded.</summary>
    bool GradientCheckpointing { get; set; }
}
