using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// Gradient checkpointing: run a block without keeping its activations, and recompute them during the backward
/// pass. Trades one extra forward of the block for the memory of its activations, which is what lets a full-size
/// video model train on one GPU. Parameter gradients are accumulated by the recomputation's own backward pass
/// (the "reentrant" scheme), so only the block's tensor inputs pass through the autograd function.
/// </summary>
/// <remarks>The block must be deterministic (no dropout), as the recomputation must reproduce the forward.</remarks>
public static class GradientCheckpoint
{
    /// <summary>
    /// Computes <paramref name="block"/>(<paramref name="inputs"/>) under checkpointing when gradients are being
    /// recorded, else calls it directly. Null inputs are passed through as null.
    /// </summary>
    public static Tensor Run(Func<Tensor?[], Tensor> block, params Tensor?[] inputs)
    {
        if (!is_grad_enabled()) return block(inputs);
        inputs = WithGradientPath(inputs);
        var present = inputs.Select((t, i) => (t, i)).Where(p => p.t is not null).ToArray();
        var args = new object[present.Length + 2];
        args[0] = block;
        args[1] = inputs.Length;
        var positions = present.Select(p => p.i).ToArray();
        for (int j = 0; j < present.Length; j++) args[j + 2] = present[j].t!;
        return CheckpointFunction.apply([positions, .. args]);
    }

    /// <summary>
    /// With a frozen base, a block's inputs often need no gradient (the first block's, always), and then autograd would
    /// never call the checkpoint's backward, so the block's own trainable parameters (LoRA) would get no gradient. As
    /// peft's <c>enable_input_require_grads</c> does, the first floating-point input then becomes a leaf that records a
    /// gradient; the values are unchanged.
    /// </summary>
    private static Tensor?[] WithGradientPath(Tensor?[] inputs)
    {
        if (inputs.Any(t => t is not null && t.requires_grad)) return inputs;
        int first = Array.FindIndex(inputs, t => t is not null && t.is_floating_point());
        if (first < 0) return inputs;
        var copy = (Tensor?[])inputs.Clone();
        copy[first] = inputs[first]!.detach().requires_grad_(true);
        return copy;
    }

    private sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {

        public override string Name => "MotionTuneCheckpoint";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var positions = (int[])vars[0];
            var block = (Func<Tensor?[], Tensor>)vars[1];
            int count = (int)vars[2];
            var tensors = vars.Skip(3).Cast<Tensor>().ToList();
            ctx.save_data("block", block);
            ctx.save_data("positions", positions);
            ctx.save_data("count", count);
            ctx.save_for_backward(tensors);
            using (no_grad()) return block(Arrange(tensors, positions, count));
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var block = (Func<Tensor?[], Tensor>)ctx.get_data("block");
            var positions = (int[])ctx.get_data("positions");
            int count = (int)ctx.get_data("count");
            var saved = ctx.get_saved_variables();
            var detached = saved.Select(t => t.detach().requires_grad_(t.requires_grad)).ToList();
            using (enable_grad())
            {
                var output = block(Arrange(detached, positions, count));
                if (output.requires_grad) autograd.backward([output], [gradOutput]);
            }
            // One gradient per argument of apply: none for the three bookkeeping arguments.
            var grads = new List<Tensor> { null!, null!, null! };
            grads.AddRange(detached.Select(t => t.requires_grad ? t.grad ?? zeros_like(t) : null!));
            return grads;
        }

        private static Tensor?[] Arrange(IReadOnlyList<Tensor> tensors, int[] positions, int count)
        {
            var arranged = new Tensor?[count];
            for (int j = 0; j < positions.Length; j++) arranged[positions[j]] = tensors[j];
            return arranged;
        }
    }
}
