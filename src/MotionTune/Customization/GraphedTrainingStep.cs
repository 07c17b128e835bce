using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// A customization's training step — loss, backward, gradient clipping, AdamW and gradient reset — captured once as a
/// <see cref="CudaGraph"/> and replayed for every later step, so the CPU queues one graph instead of thousands of
/// kernels (ModelScope's UNet is otherwise held up by the CPU). The loss function must read its varying inputs (noise,
/// timesteps) from tensors the caller refills before each <see cref="Step"/>; the learning rate is refilled here. The
/// optimizer runs as <see cref="CustomizationOptimizer.StepOnDevice"/>: PyTorch's capturable AdamW, which skips the update
/// on the device when the loss is not finite.
/// </summary>
public sealed class GraphedTrainingStep : IDisposable
{
    private readonly CudaGraph _graph;
    private readonly Tensor _learningRate;

    private GraphedTrainingStep(CudaGraph graph, Tensor learningRate) => (_graph, _learningRate) = (graph, learningRate);

    /// <summary>
    /// Runs one real step at <paramref name="learningRate"/> (the warm-up, on the capture stream; its loss and norm come
    /// back in <paramref name="first"/>), then captures the step.
    /// </summary>
    /// <exception cref="InvalidOperationException">CUDA graphs are unavailable or libtorch refused the capture.</exception>
    /// <param name="device">The CUDA device the model and the customization are on.</param>
    /// <param name="optimizer">The customization's optimizer (packed tensors).</param>
    /// <param name="loss">Queues one step's loss, reading the step's draws from tensors the caller refills.</param>
    /// <param name="clipGrad">Global gradient-norm bound (0: none).</param>
    /// <param name="learningRate">The warm-up step's learning rate.</param>
    /// <param name="first">The warm-up step's loss and gradient norm.</param>
    /// <param name="warmupDone">Told the warm-up step's loss and norm as soon as it ran, so a caller whose capture then fails
    /// knows the step was taken.</param>
    public static GraphedTrainingStep Capture(Device device, CustomizationOptimizer optimizer, Func<Tensor> loss, double clipGrad,
        double learningRate, out (float Loss, float GradientNorm) first, Action<(float Loss, float GradientNorm)>? warmupDone = null)
    {
        var lr = full([], learningRate, ScalarType.Float32, device).DetachFromDisposeScope();
        (float, float) warmup = (float.NaN, float.NaN);
        try
        {
            Tensor Body()
            {
                var value = loss();
                value.backward();
                var norm = optimizer.StepOnDevice(lr, clipGrad, value);
                return stack([value.detach().to(ScalarType.Float32), norm]);
            }
            var graph = CudaGraph.Capture(device, Body, warmups: 1, warmupResult: r =>
            {
                warmup = Read(r);
                warmupDone?.Invoke(warmup);
            });
            first = warmup;
            return new GraphedTrainingStep(graph, lr);
        }
        catch
        {
            lr.Dispose();
            throw;
        }
    }

    /// <summary>One step at <paramref name="learningRate"/>; returns its loss and gradient norm (waits for the GPU).</summary>
    public (float Loss, float GradientNorm) Step(double learningRate)
    {
        _learningRate.fill_(learningRate);
        _graph.Replay();
        return Read(_graph.Output);
    }

    private static (float, float) Read(Tensor lossAndNorm)
    {
        using var host = lossAndNorm.cpu();
        var values = host.data<float>().ToArray();
        return (values[0], values[1]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _graph.Dispose();
        _learningRate.Dispose();
    }
}
