using MotionTune.Models.Layers;
using TorchSharp.Modules;
using Conv3d = MotionTune.Models.Layers.Conv3d;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;
using static TorchSharp.torch;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' (ModelScope's) <c>TemporalConvLayer</c>: four (group norm, SiLU, [dropout,] (3,1,1) convolution) stages
/// over the frame axis, added to the input. Takes and returns frame batches (B·F, C, H, W).
/// </summary>
public sealed class TemporalConvLayer : nn.Module<Tensor, long, Tensor>
{
    /// <summary>[group norm, SiLU, conv].</summary>
    public readonly ModuleList<nn.Module<Tensor, Tensor>> conv1;
    /// <summary>[group norm, SiLU, dropout, conv].</summary>
    public readonly ModuleList<nn.Module<Tensor, Tensor>> conv2;
    /// <summary>[group norm, SiLU, dropout, conv].</summary>
    public readonly ModuleList<nn.Module<Tensor, Tensor>> conv3;
    /// <summary>[group norm, SiLU, dropout, conv] (zero-initialised in diffusers, so a new layer is the identity).</summary>
    public readonly ModuleList<nn.Module<Tensor, Tensor>> conv4;

    /// <summary>Creates the layer. diffusers builds it with dropout 0.1 (active in training mode only).</summary>
    public TemporalConvLayer(long inDim, long? outDim = null, double dropout = 0.0, int normNumGroups = 32) : base(nameof(TemporalConvLayer))
    {
        long outD = outDim ?? inDim;
        Conv3d TemporalConv(long from, long to) => new(from, to, (3, 1, 1), (1, 1, 1), (1, 0, 0));
        conv1 = new ModuleList<nn.Module<Tensor, Tensor>>(new GroupNorm(normNumGroups, inDim), nn.SiLU(), TemporalConv(inDim, outD));
        ModuleList<nn.Module<Tensor, Tensor>> Stage() =>
            new(new GroupNorm(normNumGroups, outD), nn.SiLU(), nn.Dropout(dropout), TemporalConv(outD, inDim));
        conv2 = Stage();
        conv3 = Stage();
        conv4 = Stage();
        if (ParameterFactory.Initialize)
        {
            using var _ = no_grad();
            var last = (Conv3d)conv4[3];
            last.weight.zero_();
            last.bias?.zero_();
        }
        RegisterComponents();
    }

    /// <summary>Runs the layer on a frame batch (B·F, C, H, W) of <paramref name="numFrames"/> frames per video.</summary>
    public override Tensor forward(Tensor input, long numFrames)
    {
        using var profile = MotionTune.Runtime.GpuProfiler.Section("unet.temporal_conv");
        using var scope = NewDisposeScope();
        var (bf, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        if (bf % numFrames != 0)
            throw new ArgumentException($"TemporalConvLayer: a batch of {bf} frames does not split into videos of {numFrames} frames.");
        var frames = input.view(bf / numFrames, numFrames, c, h, w);
        // (B, F, C, H, W) -> (B, C, F, H, W) as a view; the first group norm reads it and writes contiguously.
        var x = frames.permute(0, 2, 1, 3, 4);
        foreach (var stage in new[] { conv1, conv2, conv3, conv4 })
        {
            // Group norm and SiLU (stage[0], stage[1]) as one op: fused on CUDA at inference, the two ops otherwise.
            x = x.Pipe(((GroupNorm)stage[0]).ForwardSiLU);
            foreach (var layer in stage.Skip(2)) x = x.Pipe(layer.forward);
        }
        // Adding in the input's (B, F, C, H, W) order writes the sum contiguously there, so no copy is needed to
        // return to a frame batch (diffusers permutes the sum and copies it).
        var output = frames + x.permute(0, 2, 1, 3, 4);
        return output.reshape(bf, c, h, w).MoveToOuterDisposeScope();
    }
}
