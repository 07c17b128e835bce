using MotionTune.Customization;
using MotionTune.Models.Transformers;
using MotionTune.Pipelines;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

public sealed class CustomizedSamplingTests(ITestOutputHelper output)
{
    private const int Steps = 10;   // timesteps 901, 801, …, 1 (leading spacing, steps_offset 1)

    /// <summary>A customization of the tiny Latte with a visible effect: LoRA with random B, or tuned weights moved away.</summary>
    private static ICustomization Customize(LatteTransformer3DModel model, string kind)
    {
        var options = new CustomizationOptions { Full = kind == "full", Tau = 500 };
        var customization = options.CreateCustomization(model, Architecture.Latte);
        using (no_grad())
            foreach (var (_, tensor) in customization.TrainableTensors)
                tensor.add_(randn(tensor.shape, generator: new Generator(9)) * 0.2);
        customization.PublishWeights();
        return customization;
    }

    private static LoraMode ModeOf(string kind) => kind == "lora-separate" ? LoraMode.Separate : LoraMode.Merged;

    public static TheoryData<string> Kinds() => new() { "lora-merged", "lora-separate", "full" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TauAtTIsExactlyTheBaseModel(string kind)
    {
        using var _ = no_grad();
        var model = TinyLatte.Model();
        var scheduler = TinyLatte.Scheduler();
        var prompts = new SamplingPrompts(TinyLatte.Prompt(3));
        var start = randn(TinyLatte.LatentShape, generator: new Generator(5));
        var sampler = new VideoSampler(new LatteDenoiser(model), scheduler);
        var baseline = sampler.Sample(start, CustomizedSampling.Plan(scheduler, Steps, 1000, 1), prompts);

        using var customization = Customize(model, kind);
        var customized = CustomizedSampling.Sample(sampler, customization, 1000, start, Steps, prompts, 1, ModeOf(kind));
        Assert.True(customized.SameAs(baseline), "tau = 1000 must sample the base model bit for bit");
        var tuned = CustomizedSampling.Sample(sampler, customization, 0, start, Steps, prompts, 1, ModeOf(kind));
        Assert.False(tuned.allclose(baseline, 1e-4, 1e-4), "the customization must have an effect at tau = 0");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void OnlyStepsAtOrAboveTauSeeTheCustomization(string kind)
    {
        var model = TinyLatte.Model();
        var scheduler = TinyLatte.Scheduler();
        var prompts = new SamplingPrompts(TinyLatte.Prompt(3), Negative: TinyLatte.Prompt(4));
        var start = randn(TinyLatte.LatentShape, generator: new Generator(5));
        using var customization = Customize(model, kind);
        var tap = new TapDenoiser(new LatteDenoiser(model), customization);
        CustomizedSampling.Sample(new VideoSampler(tap, scheduler), customization, 550, start, Steps, prompts, 4, ModeOf(kind));

        // Sampling goes from t = 901 down, so the customized steps come first. Replay each step's own input through the
        // base model: the outputs must agree exactly below tau and differ at and above it.
        Assert.Equal(Steps, tap.Calls.Count);
        Assert.True(customization.Active, "the switch is left as it was found");
        if (customization is LoraNetwork lora) Assert.False(lora.IsMerged, "the LoRA is left unmerged as it was found");
        var baseDenoiser = new LatteDenoiser(model);
        using var _ = no_grad();
        customization.Active = false;
        foreach (var (t, input, modelOutput, active) in tap.Calls)
        {
            Assert.Equal(t >= 550, active);
            var batch = input.shape[0];
            var condition = TextCondition.Concat(prompts.Negative!, prompts.Source);
            var baseOutput = baseDenoiser.Predict(input, full(batch, t, ScalarType.Int64), condition);
            double difference = (modelOutput - baseOutput).abs().max().item<float>();
            output.WriteLine($"{kind} t = {t}: customization {(active ? "on " : "off")}, max |output - base output| = {difference:E2}");
            if (t >= 550) Assert.True(difference > 1e-3, $"t = {t}: the customization changed nothing");
            else Assert.True(modelOutput.SameAs(baseOutput), $"t = {t}: below tau the output must be the base model's exactly");
        }
        Assert.Equal(4, tap.Calls.Count(c => c.Active));
    }

    [Fact]
    public void MergedAndSeparateLoraSampleTheSameVideo()
    {
        var model = TinyLatte.Model();
        var sampler = new VideoSampler(new LatteDenoiser(model), TinyLatte.Scheduler());
        var prompts = new SamplingPrompts(TinyLatte.Prompt(3));
        var start = randn(TinyLatte.LatentShape, generator: new Generator(5));
        using var lora = (LoraNetwork)Customize(model, "lora-merged");
        var merged = CustomizedSampling.Sample(sampler, lora, 500, start, Steps, prompts, 1, LoraMode.Merged);
        var separate = CustomizedSampling.Sample(sampler, lora, 500, start, Steps, prompts, 1, LoraMode.Separate);
        double difference = (merged - separate).abs().max().item<float>();
        output.WriteLine($"merged vs separate LoRA, 10 steps: max abs difference {difference:E2}");
        Assert.True(difference < 1e-4, $"difference {difference}");

        lora.Merge();
        CustomizedSampling.Sample(sampler, lora, 500, start, Steps, prompts, 1, LoraMode.Separate);
        Assert.True(lora.IsMerged, "a LoRA merged by the caller stays merged");
        lora.Unmerge();
    }
}
