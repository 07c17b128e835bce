using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Presets;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

/// <summary>
/// The published CogVideoX configs (reconstructed in src/MotionTune/Presets) build on the meta device with the
/// checkpoints' tensor names and shapes (Models/Snapshots) and the published parameter counts.
/// </summary>
public sealed class CogVideoXFullSizeTests(ITestOutputHelper output)
{
    static CogVideoXFullSizeTests() => TorchRuntime.Initialize();

    [Theory]
    [InlineData(ModelPresets.CogVideoX2bTransformer, "cogvideox2b_transformer", 1_693_783_872L)] // CogVideoX-2b: 1.69 B
    [InlineData(ModelPresets.CogVideoX5bTransformer, "cogvideox5b_transformer", 5_570_283_072L)] // CogVideoX-5b: 5.57 B
    public void TransformerBuildsOnMetaWithTheCheckpointLayout(string preset, string snapshot, long expectedParameters)
    {
        var config = ConfigFile.Load<CogVideoXTransformer3DConfig>(ModelPresets.PathOf(preset), warn: w => Assert.Fail(w));
        using (ParameterFactory.Scope(META))
        {
            using var model = new CogVideoXTransformer3DModel(config);
            CheckLayout(model, snapshot, expectedParameters);
            Assert.Equal(config.NumLayers * 4, model.AttentionProjections().Count());
        }
    }

    [Fact]
    public void VaeBuildsOnMetaWithTheCheckpointLayout()
    {
        var config = ConfigFile.Load<AutoencoderKLCogVideoXConfig>(ModelPresets.PathOf(ModelPresets.CogVideoX2bVae), warn: w => Assert.Fail(w));
        using (ParameterFactory.Scope(META))
        {
            using var model = new AutoencoderKLCogVideoX(config);
            CheckLayout(model, "cogvideox2b_vae", 215_583_907L); // 431 MB in 16-bit
        }
    }

    private void CheckLayout(nn.Module model, string snapshot, long expectedParameters)
    {
        var state = model.state_dict();
        long count = state.Values.Sum(t => t.numel());
        output.WriteLine($"{snapshot}: {state.Count} tensors, {count:N0} parameters");
        Assert.Equal(state.Count, model.named_parameters().Count()); // no buffers: the snapshot covers the whole checkpoint
        ShapeSnapshot.AssertMatches(model, $"tests/MotionTune.Tests/Models/Snapshots/{snapshot}.txt");
        Assert.Equal(expectedParameters, count);
    }
}
