using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// AdamW (Loshchilov and Hutter) exactly as PyTorch's single-tensor <c>torch.optim.AdamW</c> updates, with its state
/// (moments and per-tensor step counts) as plain named tensors so a checkpoint can store and restore it bit for bit.
/// Skips tensors without a gradient, as PyTorch does.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<Tensor> _parameters;
    private readonly Tensor[] _expAvg;
    private readonly Tensor[] _expAvgSq;
    private readonly long[] _steps;
    private Tensor[]? _deviceSteps; // the counts while StepOnDevice is in use (float32 scalars beside the parameters)

    /// <summary>β₁, β₂, ε and the decoupled weight decay λ.</summary>
    public (double Beta1, double Beta2, double Epsilon, double WeightDecay) Hyperparameters { get; }

    /// <summary>An optimizer for <paramref name="parameters"/> (updated in place), with zero moments.</summary>
    public AdamW(IReadOnlyList<Tensor> parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 1e-2)
    {
        _parameters = parameters;
        _expAvg = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _expAvgSq = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _steps = new long[parameters.Count];
        Hyperparameters = (beta1, beta2, epsilon, weightDecay);
    }

    /// <summary>
    /// One update with learning rate <paramref name="lr"/>; <paramref name="gradients"/>[i] belongs to parameter i (cast to
    /// its dtype if needed), null to skip it.
    /// </summary>
    public void Step(IReadOnlyList<Tensor?> gradients, double lr)
    {
        if (gradients.Count != _parameters.Count)
            throw new ArgumentException($"{gradients.Count} gradients for {_parameters.Count} parameters.", nameof(gradients));
        var (beta1, beta2, eps, weightDecay) = Hyperparameters;
        using var _ = no_grad();
        for (int i = 0; i < _parameters.Count; i++)
        {
            if (gradients[i] is not { } gradient) continue;
            using var scope = NewDisposeScope();
            var param = _parameters[i];
            var grad = gradient.dtype == param.dtype ? gradient : gradient.to(param.dtype);
            long step = ++_steps[i];

            param.mul_(1 - lr * weightDecay);
            _expAvg[i].lerp_(grad, 1 - beta1);
            _expAvgSq[i].mul_(beta2).addcmul_(grad, grad, 1 - beta2);

            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
            var denom = (_expAvgSq[i].sqrt() / biasCorrection2Sqrt).add_(eps);
            param.addcdiv_(_expAvg[i], denom, -lr / biasCorrection1);
        }
    }

    /// <summary>
    /// One update that queues everything on the parameters' device and reads nothing back, so a CUDA graph can capture
    /// and replay it: the learning rate is the float32 scalar tensor <paramref name="learningRate"/>, the step counts live
    /// on the device, and the bias corrections are computed there, as PyTorch's <c>AdamW(capturable=True)</c> does (the
    /// same update up to float32 rounding of the corrections). Where the bool scalar <paramref name="apply"/> is false
    /// (a non-finite loss), parameters, moments and counts keep their values.
    /// </summary>
    public void StepOnDevice(IReadOnlyList<Tensor?> gradients, Tensor learningRate, Tensor apply)
    {
        if (gradients.Count != _parameters.Count)
            throw new ArgumentException($"{gradients.Count} gradients for {_parameters.Count} parameters.", nameof(gradients));
        var (beta1, beta2, eps, weightDecay) = Hyperparameters;
        using var _ = no_grad();
        _deviceSteps ??= _parameters.Select((p, i) => full([], (double)_steps[i], ScalarType.Float32, p.device).DetachFromDisposeScope()).ToArray();
        for (int i = 0; i < _parameters.Count; i++)
        {
            if (gradients[i] is not { } gradient) continue;
            using var scope = NewDisposeScope();
            var param = _parameters[i];
            var grad = gradient.dtype == param.dtype ? gradient : gradient.to(param.dtype);
            var lr = learningRate.to(param.dtype);
            var step = _deviceSteps[i] + 1;

            var updated = param * (1 - lr * weightDecay);
            var expAvg = _expAvg[i].lerp(grad, 1 - beta1);
            var expAvgSq = _expAvgSq[i].mul(beta2).addcmul_(grad, grad, 1 - beta2);
            var biasCorrection1 = 1 - full_like(step, beta1).pow(step);
            var biasCorrection2Sqrt = (1 - full_like(step, beta2).pow(step)).sqrt();
            var stepSizeNeg = (lr / biasCorrection1.to(param.dtype)).neg();
            var denom = (expAvgSq.sqrt() / (biasCorrection2Sqrt.to(param.dtype) * stepSizeNeg)).add_(eps / stepSizeNeg);
            updated.addcdiv_(expAvg, denom);

            param.copy_(where(apply, updated, param));
            _expAvg[i].copy_(where(apply, expAvg, _expAvg[i]));
            _expAvgSq[i].copy_(where(apply, expAvgSq, _expAvgSq[i]));
            _deviceSteps[i].copy_(where(apply, step, _deviceSteps[i]));
        }
    }

    /// <summary>Takes the step counts back from the device after <see cref="StepOnDevice"/> (waits for the GPU).</summary>
    public void ReadStepsFromDevice()
    {
        if (_deviceSteps is null) return;
        for (int i = 0; i < _steps.Length; i++) _steps[i] = (long)_deviceSteps[i].item<float>();
        foreach (var t in _deviceSteps) t.Dispose();
        _deviceSteps = null;
    }

    /// <summary>
    /// The state as named tensors: <c>exp_avg.{i}</c>, <c>exp_avg_sq.{i}</c> (i = parameter index) and <c>step</c>
    /// (int64, one count per parameter). The tensors are the live state; copy them to keep them.
    /// </summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateDict()
    {
        for (int i = 0; i < _parameters.Count; i++)
        {
            yield return KeyValuePair.Create($"exp_avg.{i}", _expAvg[i]);
            yield return KeyValuePair.Create($"exp_avg_sq.{i}", _expAvgSq[i]);
        }
        yield return KeyValuePair.Create("step", tensor(_deviceSteps is null ? _steps : _deviceSteps.Select(t => (long)t.item<float>()).ToArray()));
    }

    /// <summary>
    /// Restores a state written by <see cref="StateDict"/>, also one saved for the same elements partitioned otherwise
    /// (per tensor where these parameters are one packed flat tensor, or the reverse; see <see cref="FlatParameters"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A missing tensor, or moments that do not hold these parameters' elements.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        List<Tensor> Saved(string prefix)
        {
            var saved = new List<Tensor>();
            while (state.TryGetValue($"{prefix}.{saved.Count}", out var t)) saved.Add(t);
            if (saved.Count == 0) throw new ArgumentException($"AdamW state: '{prefix}.0' is missing.");
            return saved;
        }
        var expAvg = Saved("exp_avg");
        var expAvgSq = Saved("exp_avg_sq");
        if (!state.TryGetValue("step", out var stepTensor)) throw new ArgumentException("AdamW state: 'step' is missing.");
        var steps = stepTensor.to(ScalarType.Int64).data<long>().ToArray();
        if (expAvgSq.Count != expAvg.Count || steps.Length != expAvg.Count)
            throw new ArgumentException($"AdamW state: {expAvg.Count} exp_avg, {expAvgSq.Count} exp_avg_sq and {steps.Length} step entries do not match.");

        bool samePartition = expAvg.Count == _parameters.Count && expAvg.Zip(_parameters).All(p => p.First.shape.SequenceEqual(p.Second.shape));
        long savedElements = expAvg.Sum(t => t.numel()), elements = _parameters.Sum(p => p.numel());
        if (!samePartition && savedElements != elements)
            throw new ArgumentException($"AdamW state: the moments hold {savedElements:N0} elements in {expAvg.Count} tensors " +
                $"([{string.Join(", ", expAvg[0].shape)}] first); the parameters have {elements:N0} in {_parameters.Count} " +
                $"([{string.Join(", ", _parameters[0].shape)}] first).");
        if (!samePartition && steps.Distinct().Count() > 1)
            throw new ArgumentException("AdamW state: saved per tensor with different step counts; it cannot be repartitioned.");

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        IEnumerable<Tensor> Repartition(List<Tensor> saved)
        {
            if (samePartition) return saved;
            var flat = cat(saved.Select(t => t.flatten()).ToArray());
            return flat.split(_parameters.Select(p => p.numel()).ToArray()).Zip(_parameters, (part, p) => part.view(p.shape));
        }
        foreach (var (target, source) in _expAvg.Zip(Repartition(expAvg))) target.copy_(source);
        foreach (var (target, source) in _expAvgSq.Zip(Repartition(expAvgSq))) target.copy_(source);
        for (int i = 0; i < _parameters.Count; i++) _steps[i] = samePartition ? steps[i] : steps[0];
        if (_deviceSteps is not null)
            for (int i = 0; i < _parameters.Count; i++) _deviceSteps[i].fill_((double)_steps[i]);
    }

    /// <summary>
    /// Scales <paramref name="gradients"/> in place so their global L2 norm is at most <paramref name="maxNorm"/>, as
    /// <c>torch.nn.utils.clip_grad_norm_</c> does (coefficient maxNorm / (norm + 1e-6), capped at 1); 0 only measures.
    /// Returns the norm before clipping.
    /// </summary>
    public static double ClipGradNorm(IReadOnlyList<Tensor> gradients, double maxNorm)
    {
        if (gradients.Count == 0) return 0;
        using var total = ClipGradNormOnDevice(gradients, maxNorm);
        return total.item<float>();
    }

    /// <summary>
    /// <see cref="ClipGradNorm"/> without reading the norm back: returns it as a float32 scalar on the gradients' device
    /// (capturable in a CUDA graph).
    /// </summary>
    public static Tensor ClipGradNormOnDevice(IReadOnlyList<Tensor> gradients, double maxNorm)
    {
        if (gradients.Count == 0) throw new ArgumentException("No gradients to clip.", nameof(gradients));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var total = linalg.vector_norm(stack(gradients.Select(g => linalg.vector_norm(g)).ToArray()));
        if (maxNorm > 0)
        {
            var coefficient = (maxNorm / (total + 1e-6)).clamp_max(1.0);
            foreach (var g in gradients) g.mul_(coefficient.to(g.dtype));
        }
        return total.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq).Concat(_deviceSteps ?? [])) t.Dispose();
    }
}
