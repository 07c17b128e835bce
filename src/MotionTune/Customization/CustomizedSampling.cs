using MotionTune.Pipelines;
using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// Timestep-constrained sampling (paper section 4): the new prompt throughout, the customization switched on at the
/// steps with t ≥ τ and the base model below. Sampling runs from the noisiest timestep down, so the customized steps
/// come first.
/// </summary>
public static class CustomizedSampling
{
    /// <summary>The plan for <paramref name="numInferenceSteps"/> steps of <paramref name="scheduler"/> (sets its timesteps).</summary>
    /// <exception cref="ArgumentException">A negative τ.</exception>
    public static TimestepPlan Plan(DdimScheduler scheduler, int numInferenceSteps, int tau, double guidanceScale)
    {
        scheduler.SetTimesteps(numInferenceSteps);
        return TimestepPlan.Customized(scheduler.Timesteps, tau, guidanceScale);
    }

    /// <summary>
    /// Samples from <paramref name="latents"/> with <paramref name="adapters"/> on exactly at t ≥ <paramref name="tau"/>,
    /// without gradients. A <see cref="LoraNetwork"/> runs merged or separate as <paramref name="mode"/> says, and is left
    /// as it was found; τ = T (1000) samples the base model. Other switches (<see cref="FullParameterTuning"/>) swap
    /// weights by copy whatever the mode.
    /// </summary>
    /// <param name="sampler">Supplies the denoiser and scheduler.</param>
    /// <param name="adapters">The customization's switch.</param>
    /// <param name="tau">The boundary timestep (usually the one it was trained with, <see cref="ICustomization.Tau"/>).</param>
    /// <param name="latents">Starting latents (B, C, F, H, W); not modified.</param>
    /// <param name="numInferenceSteps">DDIM steps.</param>
    /// <param name="prompts">The new prompt as <see cref="SamplingPrompts.Source"/> (and the negative side for guidance).</param>
    /// <param name="guidanceScale">Classifier-free guidance scale.</param>
    /// <param name="mode">Merged (the default: base-model speed) or separate LoRA path.</param>
    /// <param name="eta">DDIM η.</param>
    /// <param name="generator">Draws the η noise.</param>
    /// <param name="progress">Called after each step.</param>
    public static Tensor Sample(VideoSampler sampler, IAdapterSwitch adapters, int tau, Tensor latents, int numInferenceSteps,
        SamplingPrompts prompts, double guidanceScale, LoraMode mode = LoraMode.Merged, double eta = 0, Generator? generator = null,
        Action<SamplerProgress>? progress = null)
    {
        var plan = Plan(sampler.Scheduler, numInferenceSteps, tau, guidanceScale);
        var customized = ReferenceEquals(sampler.Adapters, adapters) ? sampler : new VideoSampler(sampler.Denoiser, sampler.Scheduler, adapters);
        var lora = adapters as LoraNetwork;
        bool wasMerged = lora?.IsMerged ?? false;
        try
        {
            if (lora is not null && plan.UsesAdapters)
            {
                if (mode == LoraMode.Merged) lora.Merge();
                else lora.Unmerge();
            }
            using var _ = no_grad();
            return customized.Sample(latents, plan, prompts, eta, generator, progress);
        }
        finally
        {
            if (lora is not null && lora.IsMerged != wasMerged)
            {
                if (wasMerged) lora.Merge();
                else lora.Unmerge();
            }
        }
    }
}
