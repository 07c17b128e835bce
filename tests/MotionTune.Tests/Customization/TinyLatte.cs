using System.Collections.Concurrent;
using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

/// <summary>A tiny random Latte (2 layers, width 16, 3 frames of 8×8 latents) and a clip to customize it on.</summary>
internal static class TinyLatte
{
    public static readonly LatteTransformer3DConfig Config = new()
    {
        NumAttentionHeads = 2, AttentionHeadDim = 8, InChannels = 4, OutChannels = 8, NumLayers = 2,
        CrossAttentionDim = 16, AttentionBias = true, SampleSize = 8, PatchSize = 2, ActivationFn = "gelu-approximate",
        NumEmbedsAdaNorm = 1000, NormType = "ada_norm_single", NormElementwiseAffine = false, NormEps = 1e-6,
        CaptionChannels = 12, VideoLength = 3,
    };

    public static readonly long[] LatentShape = [1, 4, 3, 8, 8];

    static TinyLatte() => TorchRuntime.Initialize();

    // Random weights are drawn once per seed and copied into every model asked for: tests in other classes run in
    // parallel and draw from torch's global generator too, so two constructions could otherwise differ.
    private static readonly ConcurrentDictionary<int, Dictionary<string, Tensor>> Weights = new();

    /// <summary>The same random model for the same seed (within a test run), in <paramref name="dtype"/>.</summary>
    public static LatteTransformer3DModel Model(int seed = 0, ScalarType dtype = ScalarType.Float32)
    {
        var weights = Weights.GetOrAdd(seed, s =>
        {
            lock (Weights)
            {
                manual_seed(s);
                using var template = new LatteTransformer3DModel(Config);
                return template.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());
            }
        });
        LatteTransformer3DModel model;
        using (ParameterFactory.Scope(CPU, dtype, initialize: false))
            model = new LatteTransformer3DModel(Config);
        using (no_grad())
            foreach (var (name, tensor) in model.state_dict())
                tensor.copy_(weights[name]);
        return model;
    }

    public static TrainingExample Example(int seed = 7)
    {
        var generator = new Generator((ulong)seed);
        return new TrainingExample(randn(LatentShape, generator: generator), new TextCondition(randn([1, 5, 12], generator: generator)));
    }

    public static TextCondition Prompt(int seed) => new(randn([1, 5, 12], generator: new Generator((ulong)seed)));

    public static DdimScheduler Scheduler(string predictionType = "epsilon") =>
        new(new DdimSchedulerConfig { PredictionType = predictionType, ClipSample = false, StepsOffset = 1 });
}

/// <summary>Latte as a denoiser: runs in the weights' dtype and returns the noise half of the output (not the learned variance).</summary>
internal sealed class LatteDenoiser(LatteTransformer3DModel model) : IVideoDenoiser
{
    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        using var scope = NewDisposeScope();
        var dtype = model.proj_out.weight.dtype;
        var output = model.forward(latents.to(dtype), timesteps, condition.HiddenStates.to(dtype), condition.AttentionMask);
        return output.narrow(1, 0, latents.shape[1]).MoveToOuterDisposeScope();
    }
}

/// <summary>Records every call's timestep, input, output and switch state.</summary>
internal sealed class TapDenoiser(IVideoDenoiser inner, IAdapterSwitch adapters) : IVideoDenoiser
{
    public List<(long Timestep, Tensor Input, Tensor Output, bool Active)> Calls { get; } = [];

    public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
    {
        var output = inner.Predict(latents, timesteps, condition);
        Calls.Add((timesteps[0].item<long>(), latents.detach().clone().DetachFromDisposeScope(), output.detach().clone().DetachFromDisposeScope(), adapters.Active));
        return output;
    }
}
