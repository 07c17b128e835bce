using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>
/// Gradient checkpointing: run a block without keeping its activations, and recompute them during the backward
/// pass. Trades one extra forward of the block for the memory of its activations, which is what lets a full-size
/// video model train on one GPU. Parameter gradients are accumulated by the recomputation's own backward pass
/// (the "reentrant" scheme), so only the block's tensor inputs pass through the autograd function.
/// </summary>
/// <remarks>
/// The recomputation must reproduce the forward, so random draws are replayed, as PyTorch's
/// <c>checkpoint(preserve_rng_state=True)</c> does: the CPU generator's state is saved and restored exactly; for CUDA
/// inputs, whose generator state TorchSharp cannot read, the CUDA generator of the current device is re-seeded from the
/// CPU generator before the block and again before its recomputation, so dropout masks match (the CUDA random stream then
/// differs from a run without checkpointing, but stays determined by <c>torch.manual_seed</c>).
/// </remarks>
public static class GradientCheckpoint
{
    /// <summary>
    /// Computes <paramref name="block"/>(<paramref name="inputs"/>) under checkpointing when gradients are being
    /// recorded, else calls it directly. Null inputs are passed through as null. Parameters the block uses get their
    /// gradients even when no input requires grad.
    /// </summary>
    public static Tensor Run(Func<Tensor?[], Tensor> block, params Tensor?[] inputs)
    {
        if (!is_grad_enabled()) return block(inputs);
        var withPath = WithGradientPath(inputs);
        var present = withPath.Select((t, i) => (t, i)).Where(p => p.t is not null).ToArray();
        var positions = present.Select(p => p.i).ToArray();
        var tensors = present.Select(p => p.t!).ToList();
        try
        {
            return CheckpointFunction.apply([positions, block, withPath.Length, .. tensors]);
        }
        finally
        {
            // The gradient-recording copy made here: the graph keeps what it needs of it.
            for (int i = 0; i < inputs.Length; i++)
                if (!ReferenceEquals(withPath[i], inputs[i])) withPath[i]?.Dispose();
        }
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
        // TorchSharp's custom-function bridge disposes none of the managed handles it passes through: the output our
        // forward returns (it wraps a new handle around it), the output gradient it hands backward, the gradients backward
        // returns (it copies them). Left to the GC, every checkpointed block's activation-size tensors stayed allocated on
        // the GPU across training steps (backward runs on a device thread with no dispose scope), so checkpointing raised
        // the peak instead of lowering it (full-size Latte: 28.6 GB without, 49.8 GB with). The output gradient is disposed
        // when backward is done with it; the others, no longer used by the bridge by then, at the next checkpoint call.
        private static readonly List<Tensor> Pending = [];

        private static void DisposePending()
        {
            lock (Pending)
            {
                foreach (var t in Pending) t.Dispose();
                Pending.Clear();
            }
        }

        private static void DisposeLater(IEnumerable<Tensor> tensors)
        {
            lock (Pending) Pending.AddRange(tensors);
        }

        public override string Name => "MotionTuneCheckpoint";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var positions = (int[])vars[0];
            var block = (Func<Tensor?[], Tensor>)vars[1];
            int count = (int)vars[2];
            var tensors = vars.Skip(3).Cast<Tensor>().ToList();
            DisposePending();
            // Aliases (same storage) that the backward pass disposes: the context itself lives until the GC collects
            // it, and would otherwise keep every block's inputs alive across training steps.
            var saved = tensors.Select(t => t.detach().requires_grad_(t.requires_grad).DetachFromDisposeScope()).ToList();
            ctx.save_data("block", block);
            ctx.save_data("positions", positions);
            ctx.save_data("count", count);
            ctx.save_data("inputs", saved);
            ctx.save_data("rng", RandomState.Capture(tensors));
            Tensor output;
            using (no_grad()) output = block(Arrange(tensors, positions, count));
            DisposeLater([output]);
            return output;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            DisposePending();
            // The recomputed activations are temporaries: without a scope they would hold GPU memory until the GC ran.
            using var scope = NewDisposeScope();
            var block = (Func<Tensor?[], Tensor>)ctx.get_data("block");
            var positions = (int[])ctx.get_data("positions");
            int count = (int)ctx.get_data("count");
            var saved = (List<Tensor>)ctx.get_data("inputs");
            var detached = saved.Select(t => t.detach().requires_grad_(t.requires_grad)).ToList();
            var rng = (RandomState)ctx.get_data("rng");
            foreach (var t in saved) t.Dispose();
            ctx.save_data("inputs", new List<Tensor>());
            ctx.save_data("block", null!);
            using (gradOutput)
            using (rng)
            using (rng.Replay())
            using (enable_grad())
            {
                var output = block(Arrange(detached, positions, count));
                if (output.requires_grad) autograd.backward([output], [gradOutput]);
            }
            // One gradient per argument of apply: none for the three bookkeeping arguments.
            var grads = new List<Tensor> { null!, null!, null! };
            grads.AddRange(detached.Select(t => t.requires_grad ? (t.grad ?? zeros_like(t)).DetachFromDisposeScope() : null!));
            DisposeLater(grads.Where(g => g is not null));
            return grads;
        }

        private static Tensor?[] Arrange(IReadOnlyList<Tensor> tensors, int[] positions, int count)
        {
            var arranged = new Tensor?[count];
            for (int j = 0; j < positions.Length; j++) arranged[positions[j]] = tensors[j];
            return arranged;
        }
    }

    /// <summary>The random state a block started from, to replay its draws in the recomputation.</summary>
    private sealed class RandomState : IDisposable
    {
        private readonly Tensor _cpuState;
        private readonly long? _cudaSeed;

        private RandomState(Tensor cpuState, long? cudaSeed) => (_cpuState, _cudaSeed) = (cpuState, cudaSeed);

        /// <summary>Saves the CPU generator state and, for CUDA inputs, re-seeds the CUDA generator with a recorded seed.</summary>
        public static RandomState Capture(IEnumerable<Tensor> inputs)
        {
            // Kept past the caller's dispose scope: the backward pass needs it.
            var cpuState = random.get_rng_state().DetachFromDisposeScope();
            long? cudaSeed = null;
            if (inputs.Any(t => t.device.type == TorchSharp.DeviceType.CUDA))
            {
                cudaSeed = DrawSeed();
                cuda.manual_seed(cudaSeed.Value);
            }
            return new RandomState(cpuState, cudaSeed);
        }

        /// <summary>Releases the saved CPU generator state.</summary>
        public void Dispose() => _cpuState.Dispose();

        /// <summary>Puts the generators back where the block started; disposing moves them on to fresh states.</summary>
        public IDisposable Replay()
        {
            var current = random.get_rng_state();
            random.set_rng_state(_cpuState);
            if (_cudaSeed is long seed) cuda.manual_seed(seed);
            return new Resume(current, _cudaSeed is not null);
        }

        private static long DrawSeed()
        {
            using var draw = randint(long.MaxValue, [1], ScalarType.Int64);
            return draw.item<long>();
        }

        private sealed class Resume(Tensor cpuState, bool reseedCuda) : IDisposable
        {
            public void Dispose()
            {
                random.set_rng_state(cpuState);
                // A fresh seed, so draws after the backward pass do not repeat the replayed ones.
                if (reseedCuda) cuda.manual_seed(DrawSeed());
                cpuState.Dispose();
            }
        }
    }
}
