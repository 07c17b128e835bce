using static TorchSharp.torch;

namespace MotionTune.Tests;

internal static class TensorExtensions
{
    /// <summary>Same shape and bit-equal values (torch.equal).</summary>
    public static bool SameAs(this Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && (a.numel() == 0 || a.eq(b).all().item<bool>());
}
