using MotionTune.Models.Layers;
using TorchSharp.Modules;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using Embedding = MotionTune.Models.Layers.Embedding;
using LayerNorm = MotionTune.Models.Layers.LayerNorm;
using Linear = MotionTune.Models.Layers.Linear;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.TextEncoders;

/// <summary>The sizes a CLIP transformer tower (text or vision) is built from.</summary>
/// <param name="HiddenSize">Width.</param>
/// <param name="IntermediateSize">MLP width.</param>
/// <param name="NumAttentionHeads">Heads.</param>
/// <param name="NumHiddenLayers">Layers.</param>
/// <param name="HiddenAct">MLP activation name.</param>
/// <param name="LayerNormEps">Layer-norm epsilon.</param>
public sealed record CLIPTowerShape(long HiddenSize, long IntermediateSize, long NumAttentionHeads, int NumHiddenLayers, string HiddenAct, double LayerNormEps);

/// <summary>Multi-head self-attention with q/k/v/out projections (biases on all four), scaled by 1/√head_dim.</summary>
public sealed class CLIPAttention : nn.Module
{
    /// <summary>Key projection.</summary>
    public readonly Linear k_proj;
    /// <summary>Value projection.</summary>
    public readonly Linear v_proj;
    /// <summary>Query projection.</summary>
    public readonly Linear q_proj;
    /// <summary>Output projection.</summary>
    public readonly Linear out_proj;
    private readonly long _heads;

    /// <summary>Creates the layer.</summary>
    public CLIPAttention(CLIPTowerShape shape) : base(nameof(CLIPAttention))
    {
        if (shape.HiddenSize % shape.NumAttentionHeads != 0)
            throw new ArgumentException($"CLIP: hidden_size {shape.HiddenSize} is not divisible by num_attention_heads {shape.NumAttentionHeads}.");
        _heads = shape.NumAttentionHeads;
        k_proj = new Linear(shape.HiddenSize, shape.HiddenSize);
        v_proj = new Linear(shape.HiddenSize, shape.HiddenSize);
        q_proj = new Linear(shape.HiddenSize, shape.HiddenSize);
        out_proj = new Linear(shape.HiddenSize, shape.HiddenSize);
        RegisterComponents();
    }

    /// <summary>
    /// Attends (batch, tokens, width) to itself. <paramref name="mask"/> is boolean (true = may attend), broadcastable
    /// to (batch, heads, tokens, tokens); <paramref name="causal"/> adds the causal mask when no mask is given.
    /// </summary>
    public Tensor forward(Tensor hidden, Tensor? mask, bool causal)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], tokens = hidden.shape[1];
        Tensor Heads(Linear proj) => proj.forward(hidden).view(batch, tokens, _heads, -1).transpose(1, 2);
        var attended = F.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj), mask, 0.0, causal && mask is null);
        var merged = attended.transpose(1, 2).reshape(batch, tokens, -1);
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}

/// <summary>fc1, activation, fc2.</summary>
public sealed class CLIPMLP : nn.Module<Tensor, Tensor>
{
    /// <summary>Expansion.</summary>
    public readonly Linear fc1;
    /// <summary>Projection back.</summary>
    public readonly Linear fc2;
    private readonly Func<Tensor, Tensor> _activation;

    /// <summary>Creates the layer.</summary>
    public CLIPMLP(CLIPTowerShape shape) : base(nameof(CLIPMLP))
    {
        _activation = HiddenActivation.Get(shape.HiddenAct, "CLIP hidden_act");
        fc1 = new Linear(shape.HiddenSize, shape.IntermediateSize);
        fc2 = new Linear(shape.IntermediateSize, shape.HiddenSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return fc2.forward(_activation(fc1.forward(hidden))).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm transformer layer: x + attn(ln1(x)), then x + mlp(ln2(x)).</summary>
public sealed class CLIPEncoderLayer : nn.Module
{
    /// <summary>Self-attention.</summary>
    public readonly CLIPAttention self_attn;
    /// <summary>Norm before attention.</summary>
    public readonly LayerNorm layer_norm1;
    /// <summary>Feed-forward.</summary>
    public readonly CLIPMLP mlp;
    /// <summary>Norm before the MLP.</summary>
    public readonly LayerNorm layer_norm2;

    /// <summary>Creates the layer.</summary>
    public CLIPEncoderLayer(CLIPTowerShape shape) : base(nameof(CLIPEncoderLayer))
    {
        self_attn = new CLIPAttention(shape);
        layer_norm1 = new LayerNorm(shape.HiddenSize, shape.LayerNormEps);
        mlp = new CLIPMLP(shape);
        layer_norm2 = new LayerNorm(shape.HiddenSize, shape.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>Runs the layer; see <see cref="CLIPAttention.forward"/> for the mask.</summary>
    public Tensor forward(Tensor hidden, Tensor? mask, bool causal)
    {
        using var scope = NewDisposeScope();
        var x = hidden + self_attn.forward(layer_norm1.forward(hidden), mask, causal);
        x = x + mlp.forward(layer_norm2.forward(x));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The stack of <see cref="CLIPEncoderLayer"/>s (<c>layers.N</c>).</summary>
public sealed class CLIPEncoder : nn.Module
{
    /// <summary>The layers.</summary>
    public readonly ModuleList<CLIPEncoderLayer> layers;

    /// <summary>Creates the stack.</summary>
    public CLIPEncoder(CLIPTowerShape shape) : base(nameof(CLIPEncoder))
    {
        layers = new ModuleList<CLIPEncoderLayer>(Enumerable.Range(0, shape.NumHiddenLayers).Select(_ => new CLIPEncoderLayer(shape)).ToArray());
        RegisterComponents();
    }

    /// <summary>
    /// Runs every layer. Returns the input followed by each layer's output (transformers' <c>hidden_states</c>),
    /// or, when <paramref name="keepAll"/> is false, only the last two of them.
    /// </summary>
    public List<Tensor> forward(Tensor hidden, Tensor? mask, bool causal, bool keepAll)
    {
        var states = new List<Tensor> { hidden };
        foreach (var layer in layers)
        {
            var next = layer.forward(states[^1], mask, causal);
            if (!keepAll && states.Count == 2)
            {
                // Keep only what the caller needs: the penultimate and last states.
                if (!ReferenceEquals(states[0], hidden)) states[0].Dispose();
                states.RemoveAt(0);
            }
            states.Add(next);
        }
        return states;
    }
}
