using static TorchSharp.torch;

namespace MotionTune.Models.Layers;

/// <summary>Chaining layers while releasing each intermediate as soon as the next one exists.</summary>
public static class TensorPipe
{
    /// <summary>
    /// Returns <paramref name="step"/>(<paramref name="x"/>) and disposes <paramref name="x"/>, so a chain of layers
    /// holds one intermediate at a time (as PyTorch's reference counting does) instead of all of them until the
    /// dispose scope ends. Autograd keeps what it saved. Only for tensors the caller owns, never a caller's input.
    /// </summary>
    public static Tensor Pipe(this Tensor x, Func<Tensor, Tensor> step)
    {
        var y = step(x);
        if (!ReferenceEquals(x, y)) x.Dispose();
        return y;
    }
}
