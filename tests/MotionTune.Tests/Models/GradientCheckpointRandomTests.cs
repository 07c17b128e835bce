using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Tests.Models;

/// <summary>The recomputation of a checkpointed block replays its random draws (dropout), as PyTorch's checkpoint does.</summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class GradientCheckpointRandomTests
{
    static GradientCheckpointRandomTests() => TorchRuntime.Initialize();

    [Fact]
    public void DropoutMasksAreReplayedInTheRecomputation()
    {
        var weight = (randn(16, 16) * 0.3).requires_grad_();
        var x = randn(4, 16);
        Tensor Block(Tensor?[] a) => F.dropout(a[0]!.matmul(weight).tanh(), 0.5, training: true).matmul(weight);

        (Tensor Output, Tensor Grad) Run(bool checkpoint)
        {
            weight.grad?.zero_();
            manual_seed(123);
            var y = checkpoint ? GradientCheckpoint.Run(Block, x) : Block([x]);
            y.square().sum().backward();
            return (y.detach().clone(), weight.grad!.clone());
        }

        var plain = Run(checkpoint: false);
        var checkpointed = Run(checkpoint: true);
        Assert.True(checkpointed.Output.SameAs(plain.Output));
        Assert.True(checkpointed.Grad.allclose(plain.Grad, 1e-5, 1e-7));

        // The generator continues as it would have without checkpointing.
        manual_seed(123);
        using (no_grad()) Block([x]);
        var expectedNext = rand(3);
        manual_seed(123);
        var y = GradientCheckpoint.Run(Block, x);
        y.sum().backward();
        Assert.True(rand(3).SameAs(expectedNext));
    }
}
