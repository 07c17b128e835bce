using MotionTune.Customization;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

public sealed class AdamWTests(ITestOutputHelper output)
{
    static AdamWTests() => TorchRuntime.Initialize();

    [Fact]
    public void MatchesTorchSharpsAdamW()
    {
        var generator = new Generator(3);
        var ours = randn([5, 7], generator: generator);
        var theirs = new TorchSharp.Modules.Parameter(ours.clone());
        var reference = optim.AdamW([theirs], lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.05);
        var adam = new AdamW([ours], 0.8, 0.99, 1e-6, 0.05);
        for (int step = 0; step < 20; step++)
        {
            var grad = randn([5, 7], generator: generator);
            theirs.grad = grad.clone();
            reference.step();
            adam.Step([grad], 3e-3);
        }
        double error = (ours - theirs.detach()).abs().max().item<float>();
        output.WriteLine($"AdamW vs torch.optim.AdamW after 20 steps: max abs difference {error:E2}");
        Assert.True(error < 1e-6, $"difference {error}");
        Assert.False(ours.allclose(randn([5, 7], generator: new Generator(3))));
    }

    [Fact]
    public void TheDeviceSideStepMatchesTheOrdinaryOneAndSkipsWhenTold()
    {
        var generator = new Generator(5);
        var ours = randn([6, 4], generator: generator);
        var reference = ours.clone();
        var onDevice = new AdamW([ours], 0.8, 0.99, 1e-6, 0.05);
        var ordinary = new AdamW([reference], 0.8, 0.99, 1e-6, 0.05);
        var lr = full([], 3e-3, ScalarType.Float32);
        var apply = tensor(true);
        for (int step = 0; step < 12; step++)
        {
            var grad = randn([6, 4], generator: generator);
            onDevice.StepOnDevice([grad], lr, apply);
            ordinary.Step([grad], 3e-3);
        }
        double error = (ours - reference).abs().max().item<float>();
        output.WriteLine($"device-side AdamW vs the ordinary step after 12 steps: max abs difference {error:E2}");
        Assert.True(error < 1e-6, $"difference {error}");
        Assert.Equal(12L, onDevice.StateDict().Single(p => p.Key == "step").Value[0].item<long>());

        // A non-finite loss: nothing moves, not even the moments or the step count.
        var before = onDevice.StateDict().ToDictionary(p => p.Key, p => p.Value.clone());
        var weights = ours.clone();
        onDevice.StepOnDevice([full([6, 4], double.NaN)], lr, tensor(false));
        Assert.True(ours.SameAs(weights));
        foreach (var (key, value) in onDevice.StateDict()) Assert.True(value.SameAs(before[key]), key);

        onDevice.ReadStepsFromDevice();
        onDevice.Step([randn([6, 4], generator: generator)], 3e-3); // back on the host counts: step 13
        Assert.Equal(13L, onDevice.StateDict().Single(p => p.Key == "step").Value[0].item<long>());
    }

    [Fact]
    public void ItsStateRestoresExactly()
    {
        var generator = new Generator(4);
        var a = randn([3, 3], generator: generator);
        var b = a.clone();
        var grads = Enumerable.Range(0, 6).Select(_ => randn([3, 3], generator: generator)).ToArray();
        var first = new AdamW([a], weightDecay: 0.1);
        for (int i = 0; i < 3; i++) first.Step([grads[i]], 1e-2);

        var second = new AdamW([b], weightDecay: 0.1);
        for (int i = 0; i < 3; i++) second.Step([grads[i]], 1e-2);
        var saved = first.StateDict().ToDictionary(p => p.Key, p => p.Value.clone());
        var restored = new AdamW([b], weightDecay: 0.1);
        restored.LoadStateDict(saved);
        for (int i = 3; i < 6; i++)
        {
            first.Step([grads[i]], 1e-2);
            restored.Step([grads[i]], 1e-2);
        }
        Assert.True(a.SameAs(b));
        Assert.Throws<ArgumentException>(() => restored.LoadStateDict(new Dictionary<string, Tensor> { ["step"] = tensor(new long[] { 1 }) }));
    }

    [Fact]
    public void SkipsTensorsWithoutGradient()
    {
        var a = ones(2);
        var adam = new AdamW([a], weightDecay: 0.5);
        adam.Step([null], 1);
        Assert.True(a.SameAs(ones(2)));
    }

    [Fact]
    public void ClippingScalesToTheMaximumGlobalNorm()
    {
        var g1 = tensor(new float[] { 3, 0 });
        var g2 = tensor(new float[] { 0, 4 });
        Assert.Equal(5, AdamW.ClipGradNorm([g1, g2], 1), 5);
        Assert.Equal(1, Math.Sqrt(g1.square().sum().item<float>() + g2.square().sum().item<float>()), 5);
        var small = tensor(new float[] { 0.3f, 0.4f });
        Assert.Equal(0.5, AdamW.ClipGradNorm([small], 1), 5);
        Assert.True(small.SameAs(tensor(new float[] { 0.3f, 0.4f })), "a norm below the maximum is left alone");
        Assert.Equal(0.5, AdamW.ClipGradNorm([small], 0), 5);
    }
}
