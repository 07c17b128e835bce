using MotionTune.Pipelines;
using MotionTune.Runtime;
using static TorchSharp.torch;
using Linear = MotionTune.Models.Layers.Linear;

namespace MotionTune.Tests.Pipelines;

public sealed class CudaGraphDenoiserTests
{
    static CudaGraphDenoiserTests() => TorchRuntime.Initialize();

    private sealed class Doubling : IVideoDenoiser
    {
        public int Calls { get; private set; }
        public Tensor Predict(Tensor latents, Tensor timesteps, TextCondition condition)
        {
            Calls++;
            return latents * 2 + timesteps.to(latents.dtype).view(-1, 1, 1, 1, 1);
        }
    }

    [Fact]
    public void OffCudaItRunsTheWrappedDenoiser()
    {
        var inner = new Doubling();
        using var graphs = new CudaGraphDenoiser(inner, new Linear(2, 2));
        var latents = randn([2, 3, 2, 4, 4]);
        var timesteps = tensor(new long[] { 5, 7 });
        using var _ = no_grad();
        var output = graphs.Predict(latents, timesteps, new TextCondition(zeros(2, 3, 2)));
        Assert.True(output.SameAs(latents * 2 + timesteps.to(ScalarType.Float32).view(-1, 1, 1, 1, 1)));
        Assert.Equal(1, inner.Calls);
        Assert.Equal(0, graphs.Replays);
        Assert.Same(inner, graphs.Inner);
    }

    [Fact]
    public void CaptureNeedsACudaDevice()
    {
        var e = Assert.Throws<ArgumentException>(() => CudaGraph.Capture(CPU, () => zeros(1)));
        Assert.Contains("CUDA", e.Message);
    }
}
