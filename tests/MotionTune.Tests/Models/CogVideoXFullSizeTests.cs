using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

/// <summary>
/// The published CogVideoX configs (reconstructed in Configs/) build on the meta device with the checkpoints' tensor
/// names and shapes (Snapshots/, one "name\tshape" line per tensor) and the published parameter counts.
/// Set MOTIONTUNE_UPDATE_SNAPSHOTS=1 to (re)write a snapshot, then review the diff by hand.
/// </summary>
public sealed class CogVideoXFullSizeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("cogvideox-2b-transformer", 1_693_783_872L)] // CogVideoX-2b: 1.69 B
    [InlineData("cogvideox-5b-transformer", 5_570_283_072L)] // CogVideoX-5b: 5.57 B
    public void TransformerBuildsOnMetaWithTheCheckpointLayout(string name, long expectedParameters)
    {
        TorchRuntime.Initialize();
        var config = ConfigFile.Load<CogVideoXTransformer3DConfig>(ConfigPath(name), warn: w => Assert.Fail(w));
        using (ParameterFactory.Scope(META))
        {
            using var model = new CogVideoXTransformer3DModel(config);
            CheckLayout(model, name, expectedParameters);
            Assert.Equal(config.NumLayers * 4, model.AttentionProjections().Count());
        }
    }

    [Fact]
    public void VaeBuildsOnMetaWithTheCheckpointLayout()
    {
        TorchRuntime.Initialize();
        const string name = "cogvideox-2b-vae";
        var config = ConfigFile.Load<AutoencoderKLCogVideoXConfig>(ConfigPath(name), warn: w => Assert.Fail(w));
        using (ParameterFactory.Scope(META))
        {
            using var model = new AutoencoderKLCogVideoX(config);
            CheckLayout(model, name, 215_583_907L); // 431 MB in 16-bit
        }
    }

    private void CheckLayout(nn.Module model, string name, long expectedParameters)
    {
        var state = model.state_dict();
        long count = state.Values.Sum(t => t.numel());
        output.WriteLine($"{name}: {state.Count} tensors, {count:N0} parameters");
        var lines = state.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}\t[{string.Join(", ", kv.Value.shape)}]").ToList();

        var snapshot = Path.Combine(ModelsTestDir, "Snapshots", name + ".txt");
        if (Environment.GetEnvironmentVariable("MOTIONTUNE_UPDATE_SNAPSHOTS") == "1")
            File.WriteAllLines(snapshot, lines);
        Assert.True(File.Exists(snapshot), $"Snapshot {snapshot} is missing; run with MOTIONTUNE_UPDATE_SNAPSHOTS=1 and review it.");
        var expected = File.ReadAllLines(snapshot);
        var missing = expected.Except(lines).Take(5).ToList();
        var extra = lines.Except(expected).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{name} differs from {snapshot}: not built [{string.Join("; ", missing)}], not in snapshot [{string.Join("; ", extra)}].");
        Assert.Equal(expectedParameters, count);
    }

    private static string ConfigPath(string name) => Path.Combine(ModelsTestDir, "Configs", name + ".json");

    /// <summary>tests/MotionTune.Tests/Models in the source tree (configs and snapshots are read from there, not copied).</summary>
    private static string ModelsTestDir
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MotionTune.sln")))
                    return Path.Combine(dir.FullName, "tests", "MotionTune.Tests", "Models");
            throw new DirectoryNotFoundException($"Repository root (MotionTune.sln) not found above {AppContext.BaseDirectory}.");
        }
    }
}
