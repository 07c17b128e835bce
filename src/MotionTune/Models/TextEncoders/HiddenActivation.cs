using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.TextEncoders;

/// <summary>The activations transformers configs name (<c>hidden_act</c>, <c>dense_act_fn</c>), as transformers computes them.</summary>
public static class HiddenActivation
{
    /// <summary>Names this class knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["gelu", "quick_gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish"];

    /// <summary>The function for <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>; <paramref name="where"/> says where it came from.</exception>
    public static Func<Tensor, Tensor> Get(string name, string where) => name switch
    {
        "gelu" => x => F.gelu(x),
        // x·σ(1.702x), OpenAI CLIP's approximation.
        "quick_gelu" => x =>
        {
            using var scaled = x * 1.702;
            using var gate = scaled.sigmoid();
            return x * gate;
        },
        // transformers' NewGELUActivation spells out the tanh approximation; same formula here, same rounding.
        "gelu_new" => GeluNew,
        "gelu_pytorch_tanh" => x => F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "relu" => x => F.relu(x),
        "silu" or "swish" => x => F.silu(x),
        _ => throw new ArgumentException($"{where}: activation '{name}' is not supported (known: {string.Join(", ", Names)})."),
    };

    private static Tensor GeluNew(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = (x + x.pow(3.0) * 0.044715) * Math.Sqrt(2.0 / Math.PI);
        return (x * 0.5 * (inner.tanh() + 1.0)).MoveToOuterDisposeScope();
    }
}
