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
        yield return KeyValuePair.Create("step", tensor(_steps));
    }

    /// <summary>Restores a state written by <see cref="StateDict"/>.</summary>
    /// <exception cref="ArgumentException">A missing tensor or one of another shape.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        Tensor Get(string key, long[] shape)
        {
            if (!state.TryGetValue(key, out var t)) throw new ArgumentException($"AdamW state: '{key}' is missing.");
            if (!t.shape.SequenceEqual(shape))
                throw new ArgumentException($"AdamW state: '{key}' has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}].");
            return t;
        }
        var steps = Get("step", [_parameters.Count]).to(ScalarType.Int64).data<long>().ToArray();
        using var _ = no_grad();
        for (int i = 0; i < _parameters.Count; i++)
        {
            _expAvg[i].copy_(Get($"exp_avg.{i}", _parameters[i].shape));
            _expAvgSq[i].copy_(Get($"exp_avg_sq.{i}", _parameters[i].shape));
            _steps[i] = steps[i];
        }
    }

    /// <summary>
    /// Scales <paramref name="gradients"/> in place so their global L2 norm is at most <paramref name="maxNorm"/>, as
    /// <c>torch.nn.utils.clip_grad_norm_</c> does (coefficient maxNorm / (norm + 1e-6), capped at 1); 0 only measures.
    /// Returns the norm before clipping.
    /// </summary>
    public static double ClipGradNorm(IReadOnlyList<Tensor> gradients, double maxNorm)
    {
        if (gradients.Count == 0) return 0;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var total = linalg.vector_norm(stack(gradients.Select(g => linalg.vector_norm(g)).ToArray()));
        if (maxNorm > 0)
        {
            var coefficient = (maxNorm / (total + 1e-6)).clamp_max(1.0);
            foreach (var g in gradients) g.mul_(coefficient.to(g.dtype));
        }
        return total.item<float>();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq)) t.Dispose();
    }
}
