using System.Text.RegularExpressions;
using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Models;

/// <summary>
/// Self-attention's fused QKV projection (<see cref="Attention.ProjectQkv"/>): to_q/to_k/to_v are views of one weight,
/// so everything that writes the layers' parameters in place reaches the fused GEMM, and it gives what the three layers
/// give. Joins the global-random collection: it seeds the generator and flips <see cref="Attention.FuseQkvProjections"/>.
/// </summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class FusedQkvTests
{
    public FusedQkvTests() => TorchRuntime.Initialize();

    /// <summary>A module with one self-attention named <c>attn1</c>, for LoRA targets.</summary>
    private sealed class Block : nn.Module
    {
        public readonly Attention attn1 = SelfAttention();
        public Block() : base(nameof(Block)) => RegisterComponents();
    }

    private static Attention SelfAttention() =>
        new(16, new AttentionOptions { Heads = 2, DimHead = 4, Bias = true });

    private static void AssertSameAsSeparateLayers(Attention attention, Tensor x, double tolerance = 1e-12)
    {
        var (q, k, v) = attention.ProjectQkv(x);
        Assert.True(q.allclose(attention.to_q.forward(x), 0, tolerance), "q differs from to_q");
        Assert.True(k.allclose(attention.to_k.forward(x), 0, tolerance), "k differs from to_k");
        Assert.True(v.allclose(attention.to_v.forward(x), 0, tolerance), "v differs from to_v");
    }

    [Fact]
    public void InitialisationDrawsWhatThreeSeparateLayersWould()
    {
        manual_seed(3);
        var attention = SelfAttention();
        manual_seed(3);
        Linear[] separate = [new(16, 8), new(16, 8), new(16, 8)];
        Linear[] fused = [attention.to_q, attention.to_k, attention.to_v];
        for (int i = 0; i < 3; i++)
        {
            Assert.True(fused[i].weight.SameAs(separate[i].weight));
            Assert.True(fused[i].bias!.SameAs(separate[i].bias!));
        }
    }

    [Fact]
    public void StateDictKeepsTheLayersNamesAndNothingElse()
    {
        using var attention = SelfAttention();
        Assert.Equal(
            ["to_k.bias", "to_k.weight", "to_out.0.bias", "to_out.0.weight", "to_q.bias", "to_q.weight", "to_v.bias", "to_v.weight"],
            attention.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Empty(attention.named_buffers());
    }

    [Fact]
    public void FusedProjectionEqualsTheThreeLayers()
    {
        manual_seed(4);
        Attention attention;
        using (ParameterFactory.Scope(CPU, ScalarType.Float64)) attention = SelfAttention();
        var x = randn([2, 5, 16], ScalarType.Float64);
        using (no_grad()) AssertSameAsSeparateLayers(attention, x);

        // The attention output through the fused path equals the attention computed from the three layers.
        using (no_grad())
        {
            var q = attention.SplitHeads(attention.to_q.forward(x));
            var k = attention.SplitHeads(attention.to_k.forward(x));
            var v = attention.SplitHeads(attention.to_v.forward(x));
            var expected = attention.to_out[0].forward(Attention.MergeHeads(F.scaled_dot_product_attention(q, k, v)));
            Assert.True(attention.forward(x).allclose(expected, 0, 1e-12));
        }
    }

    [Fact]
    public void InPlaceWritesToTheLayersReachTheFusedWeight()
    {
        manual_seed(5);
        Attention attention;
        using (ParameterFactory.Scope(CPU, ScalarType.Float64)) attention = SelfAttention();
        var x = randn([3, 4, 16], ScalarType.Float64);
        using (no_grad())
        {
            // As StateDictLoader loads (copy_) and a LoRA merge folds (add_).
            attention.state_dict()["to_k.weight"].copy_(randn([8, 16], ScalarType.Float64));
            attention.to_v.bias!.copy_(randn([8], ScalarType.Float64));
            attention.to_q.weight.add_(ones(8, 16, ScalarType.Float64));
            AssertSameAsSeparateLayers(attention, x);
        }
    }

    [Fact]
    public void EachPartGetsItsOwnAdapterAndMergesAreSeen()
    {
        manual_seed(6);
        var model = new Block();
        var attention = model.attn1;
        using var lora = LoraNetwork.Attach(model, new LoraTargets("q and v", new Regex("^attn1\\.(to_q|to_v)$")), new LoraSettings { Rank = 2, Alpha = 2 });
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains("lora_B")) p.normal_(); // fresh adapters add nothing; make them act
        var x = randn(2, 5, 16);
        using (no_grad())
        {
            var (_, k, _) = attention.ProjectQkv(x);
            Assert.True(k.allclose(F.linear(x, attention.to_k.weight, attention.to_k.bias), 1e-5, 1e-6), "k has no adapter");
            AssertSameAsSeparateLayers(attention, x, 1e-5); // to_q/to_v.forward apply their adapters
            var separatePath = attention.to_q.forward(x);
            lora.Merge(); // adapters folded into the weights in place: the fused GEMM alone now gives the same
            Assert.True(attention.ProjectQkv(x).Q.allclose(separatePath, 1e-4, 1e-5));
            lora.Unmerge();
            Assert.True(attention.ProjectQkv(x).Q.allclose(separatePath, 1e-4, 1e-5));
        }
    }

    [Fact]
    public void AdaptersOnAllThreeRunAsOneProductWithTheSameOutputAndGradients()
    {
        // q, k, v all adapted: ProjectQkv takes the joint low-rank path; with it switched off, the per-layer one.
        (Tensor Q, Tensor K, Tensor V, Tensor[] Grads) Run(bool joint)
        {
            manual_seed(8);
            Block model;
            using (ParameterFactory.Scope(CPU, ScalarType.Float64)) model = new Block();
            foreach (var p in model.parameters()) p.requires_grad_(false);
            using var lora = LoraNetwork.Attach(model, new LoraTargets("q, k, v", new Regex("^attn1\\.(to_q|to_k|to_v)$")),
                new LoraSettings { Rank = 2, Alpha = 3 }, ScalarType.Float64);
            using (no_grad())
                foreach (var (name, p) in lora.StateDict())
                    if (name.Contains("lora_B")) p.normal_();
            lora.BeginTraining();
            var x = randn([2, 5, 16], ScalarType.Float64).requires_grad_(true);
            bool previous = Attention.JointLowRankAdapters;
            try
            {
                Attention.JointLowRankAdapters = joint;
                var (q, k, v) = model.attn1.ProjectQkv(x);
                (q.square().sum() + (k * v).sum()).backward();
                var grads = lora.StateDict().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value.grad!.clone()).Append(x.grad!.clone()).ToArray();
                return (q.detach(), k.detach(), v.detach(), grads);
            }
            finally { Attention.JointLowRankAdapters = previous; }
        }
        var joint = Run(true);
        var separate = Run(false);
        Assert.False(joint.Q.is_contiguous(), "the joint path returns views of one fused output");
        Assert.True(separate.Q.is_contiguous(), "the per-layer path adds each adapter separately");
        Assert.True(joint.Q.allclose(separate.Q, 0, 1e-12) && joint.K.allclose(separate.K, 0, 1e-12) && joint.V.allclose(separate.V, 0, 1e-12));
        Assert.Equal(7, joint.Grads.Length);
        for (int i = 0; i < joint.Grads.Length; i++)
            Assert.True(joint.Grads[i].allclose(separate.Grads[i], 0, 1e-10), $"gradient {i} differs");
        Assert.True(joint.Grads[0].abs().max().item<double>() > 0);
    }

    [Fact]
    public void WeightsThatNeedGradientsGetThemThroughTheSeparateLayers()
    {
        manual_seed(7);
        var attention = SelfAttention(); // parameters require grad, as in full-parameter tuning
        var x = randn(2, 5, 16);
        var (q, k, v) = attention.ProjectQkv(x);
        (q.sum() + 2 * k.sum() + 3 * v.sum()).backward();
        foreach (var (layer, factor) in new[] { (attention.to_q, 1.0), (attention.to_k, 2.0), (attention.to_v, 3.0) })
        {
            Assert.NotNull(layer.weight.grad);
            Assert.True(layer.weight.grad!.allclose(x.sum([0, 1]).expand(8, 16) * factor, 1e-5, 1e-4));
        }
    }

    [Fact]
    public void FrozenWeightsStillPassGradientsToTheInput()
    {
        manual_seed(8);
        var attention = SelfAttention();
        foreach (var p in attention.parameters()) p.requires_grad_(false); // LoRA training: fused path, grad mode on
        var x = randn(2, 5, 16).requires_grad_();
        var (q, k, v) = attention.ProjectQkv(x);
        (q.sum() + 2 * k.sum() + 3 * v.sum()).backward();
        var expected = (attention.to_q.weight.sum(0L) + 2 * attention.to_k.weight.sum(0L) + 3 * attention.to_v.weight.sum(0L)).expand(2, 5, 16);
        Assert.True(x.grad!.allclose(expected, 1e-5, 1e-5));
    }

    [Fact]
    public void AfterModuleToTheLayersNewParametersAreUsed()
    {
        manual_seed(9);
        var attention = SelfAttention();
        attention.to(ScalarType.Float64); // replaces the parameters: the fused weight no longer backs them
        var x = randn([2, 5, 16], ScalarType.Float64);
        using (no_grad()) AssertSameAsSeparateLayers(attention, x);
        using (no_grad()) attention.to_k.weight.zero_();
        using (no_grad()) Assert.Equal(0, attention.ProjectQkv(x).K.sub(attention.to_k.bias!).abs().max().item<double>());
    }

    [Fact]
    public void TheSwitchTurnsTheFusionOff()
    {
        manual_seed(10);
        Attention attention;
        using (ParameterFactory.Scope(CPU, ScalarType.Float64)) attention = SelfAttention();
        var x = randn([2, 5, 16], ScalarType.Float64);
        bool previous = Attention.FuseQkvProjections;
        try
        {
            Attention.FuseQkvProjections = false;
            using (no_grad()) AssertSameAsSeparateLayers(attention, x, 0);
        }
        finally { Attention.FuseQkvProjections = previous; }
    }

    [Fact]
    public void FlopsOfTheFusedProjectionAreThoseOfTheThreeLayers()
    {
        var attention = SelfAttention();
        var x = randn(2, 5, 16);
        long flops;
        using (no_grad()) flops = FlopCounter.Measure(() => attention.ProjectQkv(x));
        Assert.Equal(3 * 2L * 10 * 16 * 8, flops);
    }
}
