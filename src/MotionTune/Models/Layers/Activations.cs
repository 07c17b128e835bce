using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>diffusers' <c>get_activation</c>: activation functions by their config name.</summary>
public static class Activations
{
    /// <summary>The function named <paramref name="name"/> ("silu"/"swish", "gelu", "mish", "relu").</summary>
    /// <exception cref="ArgumentException">The name is not one of those.</exception>
    public static Func<Tensor, Tensor> Get(string name) => name switch
    {
        "silu" or "swish" => x => F.silu(x),
        "gelu" => x => F.gelu(x),
        "mish" => x => F.mish(x),
        "relu" => x => F.relu(x),
        _ => throw new ArgumentException($"activation '{name}' is not supported (silu, swish, gelu, mish, relu)."),
    };
}
