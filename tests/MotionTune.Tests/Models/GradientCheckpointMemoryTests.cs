using MotionTune.Models.Layers;
using MotionTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

/// <summary>
/// Checkpointing leaves no tensors to the garbage collector: what passes through TorchSharp's custom-function bridge
/// (the block's output, the output gradient, the returned gradients) is released, so repeated training steps do not
/// pile up activation-size tensors (on a GPU, memory).
/// </summary>
public sealed class GradientCheckpointMemoryTests
{
    static GradientCheckpointMemoryTests() => TorchRuntime.Initialize();

    [Fact]
    public void RepeatedCheckpointedStepsLeaveNoMoreLiveTensorsThanPlainOnes()
    {
        var weight = (randn(32, 32) * 0.2).requires_grad_();

        // As the models' blocks do, the block frees its own temporaries.
        Tensor Block(Tensor?[] a)
        {
            using var scope = NewDisposeScope();
            return a[0]!.matmul(weight).tanh().matmul(weight).MoveToOuterDisposeScope();
        }

        // No dispose scope around the step: on a GPU, autograd runs backward on its own device thread, where no scope
        // exists, so whatever the bridge creates there is left to the GC unless disposed. Every tensor made here is
        // disposed by hand, so what is left shows in the thread's live count (CPU autograd runs backward on this thread).
        void Step(bool checkpoint)
        {
            using var x = randn(8, 32);
            using var first = checkpoint ? GradientCheckpoint.Run(Block, x) : Block([x]);
            using var hidden = checkpoint ? GradientCheckpoint.Run(Block, first) : Block([first]); // two chained blocks
            using var squared = hidden.square();
            using var loss = squared.sum();
            loss.backward();
            using var grad = weight.grad!;
            grad.zero_();
        }

        long Growth(bool checkpoint)
        {
            Step(checkpoint);
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 10; i++) Step(checkpoint);
            return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
        }

        long plain = Growth(checkpoint: false), checkpointed = Growth(checkpoint: true);
        // Before the fix each checkpointed block left its output and two gradients per step (60 more over 10 steps);
        // now at most the last call's, held until the next one.
        Assert.InRange(checkpointed - plain, -4, 3);
    }
}
