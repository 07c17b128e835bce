using MotionTune.IO;

namespace MotionTune.Tests.IO;

public sealed record ExampleConfig : ModelConfig
{
    public int InChannels { get; init; } = 4;
    public int[] BlockOutChannels { get; init; } = [32, 64];
    public string ActFn { get; init; } = "silu";
    public double? NormEps { get; init; }

    protected override IReadOnlyCollection<string> InertKeys => ["architectures"];
}

public sealed class ConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-cfg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadsSnakeCaseKeysAndReportsUnknownOnes()
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, """
            {"_class_name": "X", "_diffusers_version": "0.40.0", "in_channels": 8, "block_out_channels": [1, 2, 3],
             "act_fn": "gelu", "architectures": ["X"], "mystery_knob": 7, "another": null}
            """);
        var warnings = new List<string>();
        var config = ConfigFile.Load<ExampleConfig>(path, warnings.Add);
        Assert.Equal(8, config.InChannels);
        Assert.Equal([1, 2, 3], config.BlockOutChannels);
        Assert.Equal("gelu", config.ActFn);
        Assert.Null(config.NormEps);
        Assert.Equal(["another", "mystery_knob"], config.UnknownKeys());
        var warning = Assert.Single(warnings);
        Assert.Contains("mystery_knob", warning);
        Assert.Contains(path, warning);
    }

    [Fact]
    public void SaveThenLoadRoundTrips()
    {
        var path = Path.Combine(_dir, "out", "config.json");
        ConfigFile.Save(new ExampleConfig { InChannels = 3, NormEps = 1e-6 }, path, "ExampleModel");
        var text = File.ReadAllText(path);
        Assert.Contains("\"_class_name\": \"ExampleModel\"", text);
        Assert.Contains("\"in_channels\": 3", text);
        var back = ConfigFile.Load<ExampleConfig>(path, _ => Assert.Fail("no unknown keys expected"));
        Assert.Equal(1e-6, back.NormEps);
    }

    [Fact]
    public void BadJsonAndMissingFilesAreReportedWithThePath()
    {
        var path = Path.Combine(_dir, "broken.json");
        File.WriteAllText(path, "{\"in_channels\": \"four\"}");
        var e = Assert.Throws<CheckpointFormatException>(() => ConfigFile.Load<ExampleConfig>(path));
        Assert.Contains(path, e.Message);
        Assert.Throws<FileNotFoundException>(() => ConfigFile.Load<ExampleConfig>(Path.Combine(_dir, "none.json")));
    }

    [Fact]
    public void ModelIndexListsComponentsAndSkipsAbsentOnes()
    {
        File.WriteAllText(Path.Combine(_dir, "model_index.json"), """
            {"_class_name": "TextToVideoSDPipeline", "_diffusers_version": "0.40.0",
             "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
             "safety_checker": [null, null], "unet": ["diffusers", "UNet3DConditionModel"]}
            """);
        Directory.CreateDirectory(Path.Combine(_dir, "unet"));
        var index = ModelIndex.Load(_dir);
        Assert.Equal("TextToVideoSDPipeline", index.ClassName);
        Assert.Equal(["scheduler", "text_encoder", "unet"], index.Components.Keys.Order());
        Assert.Equal("UNet3DConditionModel", index.Components["unet"].ClassName);
        Assert.EndsWith("unet", index.ComponentFolder("unet"));
        Assert.Throws<DirectoryNotFoundException>(() => index.ComponentFolder("scheduler"));
        Assert.Throws<FileNotFoundException>(() => ModelIndex.Load(Path.Combine(_dir, "unet")));
    }
}
