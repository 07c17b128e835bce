using MotionTune.Customization;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Pipelines;

/// <summary>Tiny pipelines assembled from fixture parts load through FromPretrained and generate end to end.</summary>
public sealed class VideoPipelineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-pipe-").FullName;

    public VideoPipelineTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, int, int> Architectures() => new()
    {
        // architecture, frames, pixel side (VAE factor: 4 for the KL fixture, 8 for CogVideoX's)
        { "modelscope", 4, 32 },
        { "latte", 4, 32 },
        { "cogvideox", 9, 64 },
    };

    private VideoPipeline Load(string architecture)
    {
        var folder = Path.Combine(_dir, architecture);
        return VideoPipeline.FromPretrained(architecture switch
        {
            "modelscope" => TinyPipelines.ModelScope(folder),
            "latte" => TinyPipelines.Latte(folder),
            _ => TinyPipelines.CogVideoX(folder),
        }, CPU, ScalarType.Float32);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void GeneratesDeterministicallyForASeed(string architecture, int frames, int side)
    {
        using var pipeline = Load(architecture);
        Assert.Equal(architecture switch { "modelscope" => Architecture.ModelScope, "latte" => Architecture.Latte, _ => Architecture.CogVideoX },
            pipeline.Architecture);
        var options = new GenerationOptions { Frames = frames, Height = side, Width = side, Steps = 3, GuidanceScale = 4, Seed = 7 };
        var steps = 0;
        var first = pipeline.Generate("a red circle moving left", options with { Progress = _ => steps++ });
        var second = pipeline.Generate("a red circle moving left", options);
        var other = pipeline.Generate("a red circle moving left", options with { Seed = 8 });

        Assert.Equal(3, steps);
        Assert.Equal(new long[] { frames, side, side, 3 }, first.shape);
        Assert.Equal(ScalarType.Byte, first.dtype);
        Assert.True(first.SameAs(second), "the same seed must give the same video");
        Assert.False(first.SameAs(other), "another seed must give another video");
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EncodesAndDecodesFramesThroughTheVae(string architecture, int frames, int side)
    {
        using var pipeline = Load(architecture);
        manual_seed(3);
        var video = randint(0, 256, [frames, side, side, 3], ScalarType.Byte);
        var latents = pipeline.EncodeFrames(video);
        int scale = pipeline.Autoencoder.SpatialCompression;
        Assert.Equal(new long[] { 1, pipeline.Autoencoder.LatentChannels, pipeline.Autoencoder.LatentFrames(frames), side / scale, side / scale }, latents.shape);
        var decoded = pipeline.DecodeLatents(latents);
        Assert.Equal(new long[] { 1, frames, side, side, 3 }, decoded.shape);
        Assert.Throws<ArgumentException>(() => pipeline.EncodeFrames(video.to(ScalarType.Float32)));
    }

    [Fact]
    public void MissingComponentsAreReportedWithTheFolder()
    {
        var folder = TinyPipelines.ModelScope(Path.Combine(_dir, "broken"));
        Directory.Delete(Path.Combine(folder, "unet"), recursive: true);
        var e = Assert.Throws<DirectoryNotFoundException>(() => VideoPipeline.FromPretrained(folder, CPU));
        Assert.Contains("unet", e.Message);
        Assert.Throws<FileNotFoundException>(() => VideoPipeline.FromPretrained(Path.Combine(_dir, "nowhere"), CPU));
    }

    [Fact]
    public void ReadsTheRecordedDefaultsOfAModelFolder()
    {
        var folder = Path.Combine(_dir, "recorded");
        CopyFolder(MotionTune.Demo.BundledModels.Resolve("shapesworld-cogvideox"), folder);
        var index = Path.Combine(folder, "model_index.json");
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(index))!;
        node["_motiontune_defaults"]!["recommended_tau"] = 600;
        node["_motiontune_defaults"]!["steps"] = 7;
        File.WriteAllText(index, node.ToJsonString());
        using var pipeline = VideoPipeline.FromPretrained(folder, CPU, ScalarType.Float32);
        Assert.Equal((600, 7, 24), (pipeline.Defaults.RecommendedTau, pipeline.Defaults.Steps, pipeline.Defaults.Height));

        node["_motiontune_defaults"]!.AsObject().Remove("recommended_tau");
        File.WriteAllText(index, node.ToJsonString());
        using var without = VideoPipeline.FromPretrained(folder, CPU, ScalarType.Float32);
        Assert.Null(without.Defaults.RecommendedTau);
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
