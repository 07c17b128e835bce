using MotionTune.Models.Layers;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Runtime;

[Collection(GlobalRandomCollection.Name)] // the profiler is process-wide
public sealed class GpuProfilerTests
{
    [Fact]
    public void SectionsOfALayerAreCountedByNameOnlyWhileEnabled()
    {
        TorchRuntime.Initialize();
        var block = new BasicTransformerBlock(16, 2, 8, new TransformerBlockOptions { CrossAttentionDim = 8 });
        var x = randn(2, 6, 16);
        var text = randn(2, 3, 8);
        block.forward(x, text, null, null);
        Assert.Empty(GpuProfiler.Collect());

        GpuProfiler.Start();
        using (GpuProfiler.Section("total")) block.forward(x, text, null, null);
        var sections = GpuProfiler.Collect().ToDictionary(s => s.Name);
        GpuProfiler.Stop();

        Assert.Equal(1, sections["total"].Calls);
        Assert.Equal(1, sections["transformer_block"].Calls);
        Assert.Equal(2, sections["sdpa"].Calls);
        Assert.Equal(3, sections["layernorm"].Calls);
        Assert.Equal(10, sections["linear"].Calls); // q, k, v, out twice; two feed-forward projections
        Assert.True(sections["total"].Milliseconds >= sections["transformer_block"].Milliseconds);
        Assert.Null(GpuProfiler.Section("after stop"));
    }
}
