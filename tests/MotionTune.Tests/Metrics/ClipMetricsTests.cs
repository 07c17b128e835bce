using System.Text.Json.Nodes;
using MotionTune.Metrics;
using MotionTune.Models.Vision;
using MotionTune.Runtime;
using MotionTune.Tests.Parity;
using MotionTune.Tests.Pipelines;
using MotionTune.Tests.Video;
using MotionTune.Tokenizers;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.Tests.Metrics;

/// <summary>
/// The CLIP metrics on the tiny clip_gelu CLIPModel (with the tokenizer_clip vocabulary and a 32-pixel processor),
/// against the definitions computed by hand from CLIPModel's outputs.
/// </summary>
public sealed class ClipMetricsTests : IDisposable
{
    private const string Prompt = "a red circle moving left on a white background";
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-clipmetrics-").FullName;
    private readonly string _clip;

    public ClipMetricsTests()
    {
        TorchRuntime.Initialize();
        _clip = ClipFolder(Path.Combine(_dir, "clip"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A transformers CLIPModel folder: weights, config (end-of-text id set to the tokenizer's), tokenizer, processor.</summary>
    private static string ClipFolder(string dir, bool withProcessor = true)
    {
        Directory.CreateDirectory(dir);
        var fixture = Path.Combine(Fixtures.Root, "clip_gelu");
        File.Copy(Path.Combine(fixture, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture, "config.json")))!;
        config["text_config"] = TinyTextFolders.ClipTextConfig();
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        if (withProcessor) AddProcessor(dir);
        return dir;
    }

    private static void AddProcessor(string dir)
    {
        TinyTextFolders.ClipTokenizer(dir, padToken: "<|endoftext|>");
        File.Copy(Path.Combine(Fixtures.Root, "clip_image_processor", "preprocessor_config.json"), Path.Combine(dir, "preprocessor_config.json"));
    }

    private static Tensor RandomFrames(int count, int seed) =>
        randint(0, 256, [count, 40, 48, 3], dtype: ScalarType.Byte, generator: new Generator((ulong)seed));

    /// <summary>CLIPModel's own outputs for the frames and the prompt: normalised embeddings and logits_per_image.</summary>
    private (float[,] Images, float[] Text, float[] Logits) Reference(Tensor frames, string prompt)
    {
        using var model = CLIPModel.FromPretrained(_clip);
        using var pixels = CLIPImageProcessor.FromPretrained(_clip).Preprocess(frames);
        var ids = TextTokenizer.FromFolder(_clip).Encode(prompt, 77);
        using var idTensor = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
        using var _ = no_grad();
        using var output = model.forward(idTensor, pixels);
        long f = frames.shape[0], d = output.ImageEmbeds.shape[1];
        var images = new float[f, d];
        var flat = output.ImageEmbeds.data<float>().ToArray();
        for (int i = 0; i < f; i++) for (int j = 0; j < d; j++) images[i, j] = flat[i * d + j];
        return (images, output.TextEmbeds[0].data<float>().ToArray(), output.LogitsPerImage[.., 0].data<float>().ToArray());
    }

    private static double Dot(float[,] m, int row, float[] v) => Enumerable.Range(0, v.Length).Sum(j => (double)m[row, j] * v[j]);
    private static double Dot(float[,] m, int a, int b) => Enumerable.Range(0, m.GetLength(1)).Sum(j => (double)m[a, j] * m[b, j]);

    [Fact]
    public void TextAlignmentIsHundredTimesTheCosineOfCLIPModelsEmbeddings()
    {
        using var frames = RandomFrames(5, seed: 1);
        using var clip = ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, BatchSize = 2 });
        var scores = ClipTextAlignment.Compute(clip, frames, Prompt);

        var (images, text, _) = Reference(frames, Prompt);
        Assert.Equal(5, scores.Values.Count);
        for (int f = 0; f < 5; f++) Assert.Equal(100 * Dot(images, f, text), scores.Values[f], 4);
        Assert.Equal(scores.Values.Average(), scores.Mean, 12);
        Assert.True(scores.Values.Distinct().Count() > 1);
    }

    [Fact]
    public void PickScoreIsTheLogitsPerImageOfCLIPModel()
    {
        using var frames = RandomFrames(3, seed: 2);
        using var model = ClipMetricModel.FromPretrained(_clip);
        using (var stored = CLIPModel.FromPretrained(_clip))
            Assert.Equal(Math.Exp(stored.logit_scale.item<float>()), model.LogitScale, 5);
        var scores = PickScore.Compute(model, frames, Prompt);
        var (_, _, logits) = Reference(frames, Prompt);
        for (int f = 0; f < 3; f++) Assert.Equal(logits[f], scores.Values[f], 4);
        Assert.Equal(logits.Average(x => (double)x), scores.Mean, 4);
    }

    [Fact]
    public void TemporalConsistencyIsHundredTimesTheCosineOfNeighbouringFrames()
    {
        using var clip = ClipMetricModel.FromPretrained(_clip);
        using (var one = RandomFrames(1, seed: 3))
        using (var same = one.expand(4, -1, -1, -1).contiguous())
        {
            var still = ClipTemporalConsistency.Compute(clip, same);
            Assert.Equal(3, still.Values.Count);
            Assert.All(still.Values, v => Assert.Equal(100, v, 3));
            Assert.Equal(100, ClipTemporalConsistency.Compute(clip, same, FramePairs.AllPairs).Mean, 3);
        }

        using var frames = RandomFrames(4, seed: 4);
        var (images, _, _) = Reference(frames, Prompt);
        var consecutive = ClipTemporalConsistency.Compute(clip, frames);
        double[] expected = [.. Enumerable.Range(0, 3).Select(f => 100 * Dot(images, f, f + 1))];
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], consecutive.Values[i], 4);
        Assert.Equal(expected.Average(), consecutive.Mean, 4);

        var all = ClipTemporalConsistency.Compute(clip, frames, FramePairs.AllPairs);
        var pairs = from a in Enumerable.Range(0, 4) from b in Enumerable.Range(0, 4) where a != b select 100 * Dot(images, a, b);
        Assert.Equal(12, all.Values.Count);
        Assert.Equal(pairs.Average(), all.Mean, 4);
    }

    [Fact]
    public void BatchSizeAndBackendAreSettings()
    {
        using var frames = RandomFrames(5, seed: 5);
        using var one = ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, BatchSize = 1 });
        using var many = ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, BatchSize = 16 });
        using var pil = ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, Backend = ImageProcessorBackend.Pil });
        Assert.Equal(ImageProcessorBackend.Torchvision, many.Processor.Backend);
        Assert.Equal(ImageProcessorBackend.Pil, pil.Processor.Backend);
        using var a = one.ImageEmbeddings(frames);
        using var b = many.ImageEmbeddings(frames);
        using var c = pil.ImageEmbeddings(frames);
        Assert.Equal([5L, 16], a.shape);
        Assert.True((a - b).abs().max().item<float>() < 1e-5);
        using var norms = a.norm(1);
        Assert.True((norms - 1).abs().max().item<float>() < 1e-5);
        // The backends differ by a grey level at a few pixels: close, not identical.
        Assert.True((a - c).abs().max().item<float>() < 0.05);
    }

    [Fact]
    public void LongPromptsAreCutToTheModelsPositions()
    {
        using var clip = ClipMetricModel.FromPretrained(_clip);
        var prompt = string.Concat(Enumerable.Repeat("a blue square bouncing ", 30));
        using var embedding = clip.TextEmbeddings([prompt]);
        var ids = TextTokenizer.FromFolder(_clip).Encode(prompt, 77);
        Assert.Equal(77, ids.Length);
        using var idTensor = tensor(ids.Select(i => (long)i).ToArray(), [1, 77]);
        using var features = clip.Model.GetTextFeatures(idTensor);
        using var expected = CLIPModel.Normalized(features);
        Assert.True((embedding - expected).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void VideoMetricsScoresAllMetricsOfOneSample()
    {
        using var frames = SyntheticVideo.GreyTexture(5, 64, 64, 1.5, -0.75);
        using var other = SyntheticVideo.GreyTexture(5, 64, 64, -1.5, 0.75);
        using var metrics = VideoMetrics.FromFolders(_clip, _clip);
        using var video = new VideoClip(frames.clone(), 8);
        using var reference = new VideoClip(frames.clone(), 8);

        var scores = metrics.Evaluate(video, Prompt, reference);
        Assert.Equal(5, scores.Frames);
        Assert.Equal(ClipTextAlignment.Compute(metrics.Clip, frames, Prompt).Mean, scores.TextAlignment, 9);
        Assert.Equal(ClipTemporalConsistency.Compute(metrics.Clip, frames).Mean, scores.TemporalConsistency, 9);
        Assert.Equal(PickScore.Compute(metrics.PickScoreModel!, frames, Prompt).Mean, scores.PickScore!.Value, 9);
        Assert.Equal(1.0, scores.OpticalFlowSimilarity!.Value, 9);
        Assert.Equal(1.0, scores.OpticalFlowValidFraction!.Value);

        var reversed = metrics.Evaluate(frames, Prompt, other);
        Assert.True(reversed.OpticalFlowSimilarity < -0.9, $"flow similarity {reversed.OpticalFlowSimilarity}");

        using var clipOnly = new VideoMetrics(new VideoMetricsOptions
        {
            Clip = new ClipMetricModelOptions { Folder = _clip }, TemporalPairs = FramePairs.AllPairs,
        });
        var plain = clipOnly.Evaluate(frames, Prompt);
        Assert.Null(plain.PickScore);
        Assert.Null(plain.OpticalFlowSimilarity);
        Assert.Equal(ClipTemporalConsistency.Compute(clipOnly.Clip, frames, FramePairs.AllPairs).Mean, plain.TemporalConsistency, 9);

        using var smaller = SyntheticVideo.GreyTexture(5, 48, 64, 1, 0);
        Assert.Throws<ArgumentException>(() => metrics.Evaluate(frames, Prompt, smaller));
        using var single = frames.narrow(0, 0, 1);
        Assert.Throws<ArgumentException>(() => metrics.Evaluate(single, Prompt));
    }

    [Fact]
    public void MissingFoldersAndFilesAreNamed()
    {
        var nowhere = Path.Combine(_dir, "no-such-model");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ClipMetricModel.FromPretrained(nowhere));
        Assert.Contains(nowhere, e.Message);
        var fromOptions = Assert.Throws<DirectoryNotFoundException>(() => VideoMetrics.FromFolders(_clip, nowhere));
        Assert.Contains(nowhere, fromOptions.Message);

        var partial = Directory.CreateDirectory(Path.Combine(_dir, "partial")).FullName;
        File.Copy(Path.Combine(_clip, "config.json"), Path.Combine(partial, "config.json"));
        File.WriteAllText(Path.Combine(partial, "pytorch_model.bin"), "");
        var missing = Assert.Throws<FileNotFoundException>(() => ClipMetricModel.FromPretrained(partial));
        Assert.Contains(partial, missing.Message);
        Assert.Contains("model.safetensors", missing.Message);
        Assert.Contains("pytorch_model.bin", missing.Message);
        Assert.Contains("preprocessor_config.json", missing.Message);
        Assert.Contains("tokenizer", missing.Message);
        Assert.DoesNotContain($"{partial}: config.json", missing.Message);

        // The tokenizer and processor may live elsewhere (PickScore's reference takes LAION's).
        var weightsOnly = ClipFolder(Path.Combine(_dir, "weights-only"), withProcessor: false);
        Assert.Throws<FileNotFoundException>(() => ClipMetricModel.FromPretrained(weightsOnly));
        using var split = ClipMetricModel.Load(new ClipMetricModelOptions { Folder = weightsOnly, ProcessorFolder = _clip });
        using var frames = RandomFrames(2, seed: 6);
        using var whole = ClipMetricModel.FromPretrained(_clip);
        Assert.Equal(ClipTextAlignment.Compute(whole, frames, Prompt).Mean, ClipTextAlignment.Compute(split, frames, Prompt).Mean, 9);
    }


    [Fact]
    public void TheScoreCommandWritesTheFacadesScores()
    {
        using var frames = SyntheticVideo.GreyTexture(4, 64, 64, 1.5, -0.75);
        var videoFolder = Path.Combine(_dir, "video");
        var referenceFolder = Path.Combine(_dir, "reference");
        VideoFile.WriteFrames(videoFolder, frames);
        VideoFile.WriteFrames(referenceFolder, frames);
        var json = Path.Combine(_dir, "scores.json");

        var root = new System.CommandLine.RootCommand();
        root.Options.Add(MotionTune.Cli.Commands.GlobalOptions.LibTorch);
        root.Subcommands.Add(MotionTune.Cli.Commands.ScoreCommand.Create());
        int exit = root.Parse(["score", videoFolder, "--prompt", Prompt, "--clip", _clip, "--pickscore", _clip,
            "--reference", referenceFolder, "--device", "cpu", "--pairs", "all", "--output", json]).Invoke();
        Assert.Equal(0, exit);

        var written = System.Text.Json.JsonSerializer.Deserialize<VideoMetricScores>(File.ReadAllText(json))!;
        using var metrics = new VideoMetrics(new VideoMetricsOptions
        {
            Clip = new ClipMetricModelOptions { Folder = _clip }, PickScore = new ClipMetricModelOptions { Folder = _clip },
            TemporalPairs = FramePairs.AllPairs,
        });
        Assert.Equal(metrics.Evaluate(frames, Prompt, frames), written);
    }
    [Fact]
    public void BadOptionsAndFramesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, BatchSize = 0 }));
        Assert.Throws<ArgumentException>(() => ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, DType = ScalarType.BFloat16 }));
        Assert.Throws<ArgumentException>(() => ClipMetricModel.Load(new ClipMetricModelOptions { Folder = _clip, DType = ScalarType.Int32 }));

        using var clip = ClipMetricModel.FromPretrained(_clip);
        using var floats = rand(2, 32, 32, 3);
        Assert.Throws<ArgumentException>(() => ClipTextAlignment.Compute(clip, floats, Prompt));
        using var noChannels = zeros(2, 32, 32, dtype: ScalarType.Byte);
        Assert.Throws<ArgumentException>(() => PickScore.Compute(clip, noChannels, Prompt));
        using var one = RandomFrames(1, seed: 7);
        Assert.Throws<ArgumentException>(() => ClipTemporalConsistency.Compute(clip, one));
        Assert.Throws<ArgumentException>(() => clip.TextEmbeddings([]));
    }
}
