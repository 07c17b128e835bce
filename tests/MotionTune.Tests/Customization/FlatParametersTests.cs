using MotionTune.Customization;
using MotionTune.Runtime;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace MotionTune.Tests.Customization;

public sealed class FlatParametersTests
{
    static FlatParametersTests() => TorchRuntime.Initialize();

    private static (Parameter A, Parameter B, Tensor X) Leaves(int seed)
    {
        var generator = new Generator((ulong)seed);
        return (new Parameter(randn([3, 4], generator: generator)), new Parameter(randn([5], generator: generator)), randn([2, 4], generator: generator));
    }

    // A loss that reaches both tensors, used twice before reading the gradients so that accumulation is exercised.
    private static void Backward(Tensor a, Tensor b, Tensor x)
    {
        for (int i = 0; i < 2; i++)
            (x.matmul(a.t()).square().sum() + (b * (i + 1)).sin().sum()).backward();
    }

    [Fact]
    public void PackedTensorsKeepTheirValuesAndShareOneBuffer()
    {
        var (a, b, _) = Leaves(1);
        var (a0, b0) = (a.detach().clone(), b.detach().clone());
        using var packed = FlatParameters.TryPack([a, b])!;

        Assert.True(a.SameAs(a0) && b.SameAs(b0));
        Assert.True(packed.Values.SameAs(cat([a0.flatten(), b0])));
        using (no_grad()) packed.Values.add_(1); // the tensors are views of the buffer
        Assert.True(a.SameAs(a0 + 1) && b.SameAs(b0 + 1));
        using (no_grad()) a.mul_(0); // and the reverse
        Assert.True(packed.Values.narrow(0, 0, 12).SameAs(zeros(12)));
    }

    [Fact]
    public void GradientsAccumulateIntoTheFlatBufferAsTheyWouldAlone()
    {
        var (a, b, x) = Leaves(2);
        Backward(a, b, x);
        var expected = cat([a.grad!.flatten(), b.grad!]);

        var (pa, pb, px) = Leaves(2);
        using var packed = FlatParameters.TryPack([pa, pb])!;
        Backward(pa, pb, px);
        Assert.True(packed.Gradients.allclose(expected, rtol: 1e-6, atol: 1e-6));
        Assert.True(pa.grad!.SameAs(a.grad!));

        packed.ZeroGradients();
        Backward(pa, pb, px);
        Assert.True(packed.Gradients.allclose(expected, rtol: 1e-6, atol: 1e-6)); // zeroed, not summed onto the last step's

        packed.DetachGradients();
        Assert.Null(pa.grad);
        packed.AttachGradients();
        Assert.True(pa.grad!.SameAs(zeros(3, 4)));
        Backward(pa, pb, px);
        Assert.True(packed.Gradients.allclose(expected, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void MixedDtypesOrNothingAreNotPacked()
    {
        Assert.Null(FlatParameters.TryPack([]));
        Assert.Null(FlatParameters.TryPack([new Parameter(zeros(2)), new Parameter(zeros(2, dtype: ScalarType.Float64))]));
    }

    [Fact]
    public void OneFlatAdamWStepEqualsOneStepPerTensor()
    {
        var (a, b, x) = Leaves(3);
        var (pa, pb, px) = Leaves(3);
        using var packed = FlatParameters.TryPack([pa, pb])!;
        var separate = new AdamW([a, b], weightDecay: 0.1);
        var flat = new AdamW([packed.Values], weightDecay: 0.1);
        for (int step = 0; step < 3; step++)
        {
            Backward(a, b, x);
            separate.Step([a.grad, b.grad], 1e-2);
            a.grad = null;
            b.grad = null;
            Backward(pa, pb, px);
            flat.Step([packed.Gradients], 1e-2);
            packed.ZeroGradients();
        }
        Assert.True(pa.allclose(a, rtol: 1e-6, atol: 1e-7) && pb.allclose(b, rtol: 1e-6, atol: 1e-7));
        Assert.False(pa.allclose(Leaves(3).A));
    }

    [Fact]
    public void AdamWStateMovesBetweenPerTensorAndPackedLayouts()
    {
        var generator = new Generator(5);
        var grads = Enumerable.Range(0, 6).Select(_ => (randn([3, 4], generator: generator), randn([5], generator: generator))).ToArray();
        var (a, b, _) = Leaves(4);
        var separate = new AdamW([a, b]);
        for (int i = 0; i < 3; i++) separate.Step([grads[i].Item1, grads[i].Item2], 1e-2);

        // Resume the per-tensor state into a packed copy, then run both on: they stay equal.
        var (pa, pb, _) = Leaves(4);
        using var packed = FlatParameters.TryPack([pa, pb])!;
        using (no_grad()) packed.Values.copy_(cat([a.detach().flatten(), b.detach()]));
        var flat = new AdamW([packed.Values]);
        flat.LoadStateDict(separate.StateDict().ToDictionary(p => p.Key, p => p.Value.clone()));
        // And the packed state back into per-tensor parameters.
        var (ra, rb, _) = Leaves(4);
        using (no_grad()) { ra.copy_(a); rb.copy_(b); }
        var back = new AdamW([ra, rb]);
        back.LoadStateDict(flat.StateDict().ToDictionary(p => p.Key, p => p.Value.clone()));
        for (int i = 3; i < 6; i++)
        {
            separate.Step([grads[i].Item1, grads[i].Item2], 1e-2);
            flat.Step([cat([grads[i].Item1.flatten(), grads[i].Item2])], 1e-2);
            back.Step([grads[i].Item1, grads[i].Item2], 1e-2);
        }
        Assert.True(pa.allclose(a, rtol: 1e-6, atol: 1e-7) && pb.allclose(b, rtol: 1e-6, atol: 1e-7));
        Assert.True(ra.allclose(a, rtol: 1e-6, atol: 1e-7) && rb.allclose(b, rtol: 1e-6, atol: 1e-7));

        var wrong = new AdamW([zeros(7)]);
        var error = Assert.Throws<ArgumentException>(() => wrong.LoadStateDict(separate.StateDict().ToDictionary(p => p.Key, p => p.Value)));
        Assert.Contains("17 elements", error.Message);
    }
}
