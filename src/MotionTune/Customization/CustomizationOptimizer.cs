using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// AdamW over a customization's trainable tensors, with the global gradient-norm clipping of a training step: one flat
/// tensor when the customization packs them (<see cref="ICustomization.Packed"/>), else one per tensor. Create it after
/// <see cref="ICustomization.BeginTraining"/>, which packs.
/// </summary>
public sealed class CustomizationOptimizer : IDisposable
{
    private readonly ICustomization _customization;

    /// <summary>The optimizer (its state is what a training checkpoint saves).</summary>
    public AdamW AdamW { get; }

    /// <summary>AdamW with the given hyperparameters over <paramref name="customization"/>'s trainable tensors.</summary>
    public CustomizationOptimizer(ICustomization customization, double beta1, double beta2, double epsilon, double weightDecay)
    {
        _customization = customization;
        AdamW = new AdamW(customization.Packed is { } packed ? [packed.Values] : customization.TrainableTensors.Select(p => p.Value).ToList(),
            beta1, beta2, epsilon, weightDecay);
    }

    /// <summary>
    /// Applies the gradients of the last backward pass: clips their global norm to <paramref name="clipGrad"/> (0: no
    /// clipping), takes an AdamW step at <paramref name="learningRate"/>, clears the gradients and publishes the weights.
    /// Returns the norm before clipping (this waits for the GPU).
    /// </summary>
    public double Step(double learningRate, double clipGrad)
    {
        using var scope = NewDisposeScope();
        // Gradients in float32 (the full variant's arrive in the base dtype); the optimizer and clipping work on these.
        IReadOnlyList<Tensor?> gradients = _customization.Packed is { } packed
            ? [packed.Gradients]
            : Enumerable.Range(0, _customization.TrainableTensors.Count)
                .Select(i => _customization.Gradient(i) is { } g ? (g.dtype == ScalarType.Float32 ? g : g.to(ScalarType.Float32)) : null)
                .ToList();
        double norm = AdamW.ClipGradNorm(gradients.OfType<Tensor>().ToList(), clipGrad);
        AdamW.Step(gradients, learningRate);
        _customization.ClearGradients();
        _customization.PublishWeights();
        return norm;
    }

    /// <summary>
    /// <see cref="Step"/> without reading anything back, so that a CUDA graph can capture it (see
    /// <see cref="GraphedTrainingStep"/>): the learning rate is a float32 scalar tensor, and the update is skipped on the
    /// device when <paramref name="loss"/> is not finite. Needs packed tensors (LoRA). Returns the norm before clipping,
    /// as a float32 scalar on the device.
    /// </summary>
    /// <exception cref="InvalidOperationException">The customization's tensors are not packed.</exception>
    public Tensor StepOnDevice(Tensor learningRate, double clipGrad, Tensor loss)
    {
        if (_customization.Packed is not { } packed)
            throw new InvalidOperationException("A device-side optimizer step needs the customization's tensors packed into one buffer (LoRA).");
        using var scope = NewDisposeScope();
        var apply = loss.detach().isfinite();
        var norm = AdamW.ClipGradNormOnDevice([packed.Gradients], clipGrad);
        AdamW.StepOnDevice([packed.Gradients], learningRate, apply);
        _customization.ClearGradients();
        _customization.PublishWeights();
        return norm.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose() => AdamW.Dispose();
}
