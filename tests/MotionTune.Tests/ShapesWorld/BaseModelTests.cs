using System.CommandLine;
using System.Text.Json;
using MotionTune.Cli.Commands;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Models.TextEncoders;
using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using MotionTune.Tokenizers;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The bundled base models: their configs, folders, training command and gate evaluation (CPU, small runs).</summary>
public sealed class BaseModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-basemodels-").FullName;

    static BaseModelTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Architectures() => new() { "modelscope", "latte", "cogvideox" };

    /// <summary>Fresh weights for a spec (output layer nonzero, so the outputs say something).</summary>
    private static (nn.Module Denoiser, CLIPTextModel Text) Build(BaseModelSpec spec)
    {
        manual_seed(11);
        using (ParameterFactory.Scope(CPU))
            return (spec.CreateDenoiser(), new CLIPTextModel(spec.TextConfig));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void SpecsAreRealConfigsThatRunAtTheirSize(string name)
    {
        var spec = BaseModels.Spec(BaseModels.Parse(name));
        Assert.Equal(name, BaseModels.Name(spec.Architecture));
        var (denoiser, text) = Build(spec);
        using var _d = denoiser;
        using var _t = text;
        var d = spec.Defaults;
        Assert.Equal((16, 24, 24), (d.Frames, d.Height, d.Width));
        Assert.Equal(spec.MaxLength, spec.TextConfig.MaxPositionEmbeddings);
        // Zero terminal SNR with v-prediction for the transformers; the UNet keeps ModelScope's ε (see BaseModelSpec).
        bool unet = spec.Architecture == Architecture.ModelScope;
        Assert.Equal(unet ? "epsilon" : "v_prediction", spec.Scheduler.PredictionType);
        Assert.Equal(!unet, spec.Scheduler.RescaleBetasZeroSnr);
        Assert.Equal(unet ? "leading" : "trailing", spec.Scheduler.TimestepSpacing);
        switch (spec.DenoiserConfig)
        {
            case CogVideoXTransformer3DConfig cog:
                Assert.Equal(16, (cog.SampleFrames - 1) / cog.TemporalCompressionRatio + 1); // a 16-frame positional table
                Assert.Equal(spec.MaxLength, cog.MaxTextSeqLength);
                break;
            case LatteTransformer3DConfig latte:
                Assert.Equal(16, latte.VideoLength);
                break;
        }

        using var scope = NewDisposeScope();
        using var __ = no_grad();
        manual_seed(3);
        var latents = randn([1, 3, d.Frames, d.Height, d.Width]);
        var ids = ShapesTokenizerIds(spec, "a red circle moving left on a white background");
        var hidden = BaseModelTraining.EncodeText(text, ids, null);
        using (var output = text.forward(ids))
            Assert.True(hidden.allclose(output.LastHiddenState, 1e-5, 1e-6), "the trainer's text path must equal CLIPTextModel's last hidden state");
        var condition = new TextCondition(hidden, spec.PromptRules.MaskToDenoiser ? ones([1, spec.MaxLength], ScalarType.Int64) : null);
        var prediction = BaseModelSpec.Wrap(denoiser).Predict(latents, tensor(new long[] { 500 }), condition);
        Assert.Equal(latents.shape, prediction.shape);
        Assert.True(prediction.isfinite().all().item<bool>());
    }

    private static Tensor ShapesTokenizerIds(BaseModelSpec spec, string caption)
    {
        var folder = Directory.CreateTempSubdirectory("motiontune-tok-").FullName;
        try
        {
            ShapesTokenizer.Write(folder, spec.MaxLength);
            using var batch = TextTokenizer.FromFolder(folder).Encode([caption]);
            return batch.InputIds.clone();
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void FoldersLoadThroughVideoPipelineAndPredictAsSaved(string name)
    {
        var spec = BaseModels.Spec(BaseModels.Parse(name));
        var (denoiser, text) = Build(spec);
        using var _d = denoiser;
        using var _t = text;
        var folder = Path.Combine(_dir, name);
        BaseModelFolder.Write(folder, spec, denoiser, text, spec.Defaults with { GuidanceScale = 4 });

        var warnings = new List<string>();
        ConfigFile.Load<CLIPTextConfig>(Path.Combine(folder, "text_encoder", "config.json"), warnings.Add);
        DdimSchedulerConfig.Load(folder, warnings.Add);
        var scheduler = DdimSchedulerConfig.Load(folder);
        Assert.Equal(spec.Scheduler.ClassName, scheduler.ClassName);
        Assert.Equal(spec.Scheduler.PredictionType, scheduler.PredictionType);
        var modelConfig = Path.Combine(folder, spec.DenoiserComponent, "config.json");
        ModelConfig reloaded = spec.DenoiserConfig switch
        {
            UNet3DConditionConfig => ConfigFile.Load<UNet3DConditionConfig>(modelConfig, warnings.Add),
            LatteTransformer3DConfig => ConfigFile.Load<LatteTransformer3DConfig>(modelConfig, warnings.Add),
            _ => ConfigFile.Load<CogVideoXTransformer3DConfig>(modelConfig, warnings.Add),
        };
        Assert.Equal(spec.DenoiserConfig.GetType(), reloaded.GetType());
        Assert.Empty(warnings);

        using var pipeline = VideoPipeline.FromPretrained(folder, CPU, ScalarType.Float32);
        Assert.Equal(spec.Architecture, pipeline.Architecture);
        Assert.IsType<PixelSpace>(pipeline.Autoencoder);
        Assert.Equal(spec.Defaults with { GuidanceScale = 4 }, pipeline.Defaults);
        Assert.Equal(spec.MaxLength, pipeline.Text.MaxLength);

        // The loaded model predicts what the saved one does, up to the fp16 rounding of the stored weights.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        denoiser.eval();
        text.eval();
        var rules = spec.PromptRules;
        var tokenizer = TextTokenizer.FromFolder(Path.Combine(folder, "tokenizer"));
        var original = new SamplingModel(BaseModelSpec.Wrap(denoiser), DdimScheduler.Create(spec.Scheduler),
            new PromptEncoder(tokenizer, text, rules, spec.MaxLength), spec.Defaults, CPU, ScalarType.Float32, new PixelSpace());
        var loaded = SamplingModel.Of(pipeline);
        manual_seed(5);
        var latents = randn([1, 3, 16, 24, 24]);
        var timesteps = tensor(new long[] { 700 });
        var before = original.Denoiser.Predict(latents, timesteps, original.Text.Encode(["a blue star bouncing on a black background"]));
        var after = loaded.Denoiser.Predict(latents, timesteps, loaded.Text.Encode(["a blue star bouncing on a black background"]));
        double error = (before - after).abs().max().item<float>();
        Assert.True(error < 0.05 * before.abs().max().item<float>() + 1e-3, $"max abs difference {error}");

        var clip = pipeline.Generate("a blue star bouncing on a black background", new GenerationOptions { Steps = 2, Seed = 1 });
        Assert.Equal(new long[] { 16, 24, 24, 3 }, clip.shape);
    }

    [Fact]
    public void LargeWeightsAreShardedUnderTheLimit()
    {
        var tensors = Enumerable.Range(0, 5).Select(i => KeyValuePair.Create($"w{i}", full([256, 256], (float)i))).ToList(); // 256 KiB each
        var folder = Path.Combine(_dir, "sharded");
        var files = ShardedSafeTensors.Save(folder, "diffusion_pytorch_model", tensors, maxShardBytes: 600 << 10);
        Assert.Equal(4, files.Count); // 2 + 2 + 1 tensors, and the index
        Assert.All(files.Where(f => f.EndsWith(".safetensors")), f => Assert.True(new FileInfo(f).Length <= (600 << 10) + 4096));
        Assert.True(File.Exists(Path.Combine(folder, "diffusion_pytorch_model-00001-of-00003.safetensors")));
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "diffusion_pytorch_model.safetensors.index.json"))))
            Assert.Equal(5L * 256 * 256 * 4, doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        using var source = WeightSource.FromFolder(folder);
        foreach (var (key, value) in tensors)
        {
            using var read = source.Read(key);
            Assert.True(read.allclose(value, 0, 0), key);
        }

        var single = Path.Combine(_dir, "single");
        Assert.Single(ShardedSafeTensors.Save(single, "model", tensors, maxShardBytes: 16L << 20));
        Assert.True(File.Exists(Path.Combine(single, "model.safetensors")));
    }

    [Fact]
    public void ShardedModelFoldersLoad()
    {
        var spec = BaseModels.CogVideoX();
        var (denoiser, text) = Build(spec);
        using var _d = denoiser;
        using var _t = text;
        var folder = Path.Combine(_dir, "small-shards");
        BaseModelFolder.Write(folder, spec, denoiser, text, spec.Defaults, maxShardBytes: 1 << 20);
        Assert.True(Directory.GetFiles(Path.Combine(folder, "transformer"), "*.safetensors").Length > 1);
        Assert.True(File.Exists(Path.Combine(folder, "transformer", "diffusion_pytorch_model.safetensors.index.json")));
        using var pipeline = VideoPipeline.FromPretrained(folder, CPU);
        Assert.Equal(Architecture.CogVideoX, pipeline.Architecture);
    }

    [Fact]
    public void AShortTrainingRunWritesALoadableFolderWithAModelCard()
    {
        var folder = Path.Combine(_dir, "trained");
        var lines = new List<string>();
        var result = BaseModelTraining.Run(new BaseTrainingOptions
        {
            Architecture = Architecture.CogVideoX, Output = folder, Steps = 3, Batch = 2, Device = CPU, PoolClips = 4, RefreshEvery = 2,
            LogEvery = 1, EvalSamples = 1, EvalSteps = 2, GuidanceCandidates = [3.0], Command = "motiontune shapes train --test",
        }, lines.Add);

        Assert.Equal(3, result.Steps);
        Assert.True(double.IsFinite(result.FinalLoss));
        Assert.Contains(lines, l => l.StartsWith("step 3 loss ", StringComparison.Ordinal) && l.Contains("steps/s"));
        Assert.Equal(2, result.Candidates.Count); // EMA and raw at one guidance scale
        Assert.False(result.Evaluation.Passed);
        Assert.True(result.SizeBytes < 60L << 20);
        Assert.Empty(Directory.GetDirectories(_dir, ".trained.*")); // no staging left behind

        var card = File.ReadAllText(Path.Combine(folder, "README.md"));
        Assert.Contains("motiontune shapes train --test", card);
        Assert.Contains("| colour |", card);
        Assert.Contains("3 at batch 2", card);
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "evaluation.json"))))
            Assert.Equal(4, doc.RootElement.GetProperty("gates").GetArrayLength());
        using var pipeline = VideoPipeline.FromPretrained(folder, CPU);
        Assert.Equal(3.0, pipeline.Defaults.GuidanceScale);

        Assert.Throws<IOException>(() => BaseModelTraining.Run(new BaseTrainingOptions
        {
            Architecture = Architecture.CogVideoX, Output = folder, Steps = 1, Device = CPU,
        }, _ => { }));
        Assert.Throws<ArgumentException>(() => BaseModelTraining.Run(new BaseTrainingOptions
        {
            Architecture = Architecture.Latte, Output = Path.Combine(_dir, "bad"), Steps = 1, Minutes = 1,
        }, _ => { }));
    }

    [Fact]
    public void TrainingContinuesFromAFolderOfTheSameSpecAndAddsUpItsRecord()
    {
        var first = Path.Combine(_dir, "first");
        BaseTrainingOptions Options(string output) => new()
        {
            Architecture = Architecture.CogVideoX, Output = output, Steps = 2, Batch = 2, Device = CPU, PoolClips = 4,
            EvalSamples = 1, EvalSteps = 2, GuidanceCandidates = [3.0], EmaDecay = 0,
        };
        BaseModelTraining.Run(Options(first), _ => { });
        Assert.Equal(new TrainingRecord(2, 4, TrainingRecord.Read(first).Minutes, 1), TrainingRecord.Read(first));

        // With a zero learning rate the continued folder's weights are exactly the first folder's: the run started from them.
        var second = Path.Combine(_dir, "second");
        var lines = new List<string>();
        var result = BaseModelTraining.Run(Options(second) with { InitFrom = first, LearningRate = 1e-30, NoiseOffset = 0.1, LossWeighting = LossWeighting.Epsilon, Steps = 3 }, lines.Add);
        Assert.True(double.IsFinite(result.FinalLoss) && result.FinalLoss > 0);
        Assert.Contains(lines, l => l.StartsWith("continuing from ", StringComparison.Ordinal));
        Assert.Equal(2, result.Prior.Steps);
        Assert.Equal(5, result.Record.Steps);
        Assert.Equal(10, result.Record.Clips);
        Assert.Equal(2, result.Record.Runs);
        Assert.Equal(result.Record.Steps, TrainingRecord.Read(second).Steps);
        using (var a = WeightSource.FromFolder(Path.Combine(first, "transformer")))
        using (var b = WeightSource.FromFolder(Path.Combine(second, "transformer")))
            foreach (var name in new[] { "proj_out.weight", "transformer_blocks.0.attn1.to_q.weight" })
            {
                using var x = a.Read(name);
                using var y = b.Read(name);
                Assert.True(x.equal(y).all().item<bool>(), name);
            }
        var card = File.ReadAllText(Path.Combine(second, "README.md"));
        Assert.Contains("| continued from | a folder of the same spec trained for 2 steps", card);
        Assert.Contains("5 in all", card);
        Assert.Contains("offset noise", card);
        Assert.Contains("the ε-prediction loss", card);

        // A folder without a record (written before records existed) continues too, and the card says its training is unknown.
        var unrecorded = Path.Combine(_dir, "unrecorded");
        var spec = BaseModels.CogVideoX();
        var (d0, t0) = Build(spec);
        using (d0) using (t0) BaseModelFolder.Write(unrecorded, spec, d0, t0, spec.Defaults);
        Assert.Equal(TrainingRecord.None, TrainingRecord.Read(unrecorded));
        var fromUnrecorded = BaseModelTraining.Run(Options(Path.Combine(_dir, "fourth")) with { InitFrom = unrecorded, Steps = 1 }, _ => { });
        Assert.Equal(1, fromUnrecorded.Record.Runs);
        Assert.Contains("a folder whose training is not recorded", File.ReadAllText(Path.Combine(_dir, "fourth", "README.md")));

        // Another architecture's folder, or a missing one, is refused before anything is written.
        var latte = BaseModels.Latte();
        var (denoiser, text) = Build(latte);
        using (denoiser) using (text) BaseModelFolder.Write(Path.Combine(_dir, "latte"), latte, denoiser, text, latte.Defaults);
        var error = Assert.Throws<InvalidDataException>(() => BaseModelTraining.Run(Options(Path.Combine(_dir, "third")) with { InitFrom = Path.Combine(_dir, "latte") }, _ => { }));
        Assert.Contains("transformer", error.Message);
        Assert.Throws<ArgumentException>(() => BaseModelTraining.Run(Options(Path.Combine(_dir, "third")) with { InitFrom = Path.Combine(_dir, "nowhere") }, _ => { }));
        Assert.Throws<ArgumentException>(() => BaseModelTraining.Run(Options(Path.Combine(_dir, "third")) with { NoiseOffset = -1 }, _ => { }));
        Assert.False(Directory.Exists(Path.Combine(_dir, "third")));
    }

    [Fact]
    public void DenoiserSettingsMakeAVariantOfTheSpecAndBadOnesAreRefused()
    {
        var latte = BaseModels.Latte();
        var variant = latte.WithDenoiserSettings(new Dictionary<string, string> { ["patch_size"] = "1", ["num_layers"] = "2" });
        var config = Assert.IsType<LatteTransformer3DConfig>(variant.DenoiserConfig);
        Assert.Equal(1, config.PatchSize);
        Assert.Equal(2, config.NumLayers);
        Assert.Equal(2, ((LatteTransformer3DConfig)latte.DenoiserConfig).PatchSize); // the bundled spec is untouched
        Assert.Equal(((LatteTransformer3DConfig)latte.DenoiserConfig).CaptionChannels, config.CaptionChannels);
        Assert.Same(latte, latte.WithDenoiserSettings(new Dictionary<string, string>()));

        Assert.Contains("no config key 'patch'", Assert.Throws<ArgumentException>(() =>
            latte.WithDenoiserSettings(new Dictionary<string, string> { ["patch"] = "1" })).Message);
        Assert.Contains("does not fit", Assert.Throws<ArgumentException>(() =>
            latte.WithDenoiserSettings(new Dictionary<string, string> { ["num_layers"] = "many" })).Message);

        var root = new RootCommand { GlobalOptions.LibTorch };
        root.Subcommands.Add(ShapesCommand.Create());
        Assert.Equal(1, root.Parse(["shapes", "train", "--arch", "latte", "--out", Path.Combine(_dir, "v"), "--steps", "1", "--set", "patch_size", "--device", "cpu"]).Invoke());
        Assert.False(Directory.Exists(Path.Combine(_dir, "v")));
    }

    [Fact]
    public void EvaluateBaseReportsFailedGatesOfAnUntrainedModel()
    {
        var spec = BaseModels.Latte();
        var (denoiser, text) = Build(spec);
        using var _d = denoiser;
        using var _t = text;
        var folder = Path.Combine(_dir, "untrained");
        BaseModelFolder.Write(folder, spec, denoiser, text, spec.Defaults);

        var root = new RootCommand { GlobalOptions.LibTorch };
        root.Subcommands.Add(ShapesCommand.Create());
        var json = Path.Combine(_dir, "eval.json");
        int code = root.Parse(["shapes", "evaluate-base", folder, "--samples", "2", "--steps", "2", "--device", "cpu", "--json", json]).Invoke();
        Assert.Equal(2, code); // gates failed, not crashed
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        Assert.False(doc.RootElement.GetProperty("passed").GetBoolean());
        Assert.Equal(2, doc.RootElement.GetProperty("clips").GetArrayLength());
        Assert.Equal(1, root.Parse(["shapes", "evaluate-base", Path.Combine(_dir, "missing"), "--device", "cpu"]).Invoke());
    }

    [Fact]
    public void TheLearningRateWarmsUpThenFollowsACosineToATenth()
    {
        Assert.Equal(1e-3 / 100, BaseModelTraining.LearningRate(1e-3, 0, 100, 0.0, 0), 12);
        Assert.Equal(1e-3 / 2, BaseModelTraining.LearningRate(1e-3, 49, 100, 0.05, 0), 12);
        Assert.Equal(1e-3, BaseModelTraining.LearningRate(1e-3, 100, 100, 0.2, 0.2), 12);
        Assert.Equal(0.55e-3, BaseModelTraining.LearningRate(1e-3, 500, 100, 0.6, 0.2), 12);
        Assert.Equal(1e-4, BaseModelTraining.LearningRate(1e-3, 900, 100, 1.0, 0.2), 12);
    }

    [Fact]
    public void BaseModelCommandsRunAndRejectBadOptions()
    {
        var root = new RootCommand { GlobalOptions.LibTorch };
        root.Subcommands.Add(ShapesCommand.Create());
        Assert.Equal(0, root.Parse(["shapes", "bench-base", "--arch", "cogvideox", "--repeats", "1"]).Invoke());
        Assert.Equal(1, root.Parse(["shapes", "train", "--arch", "sora", "--out", Path.Combine(_dir, "x"), "--steps", "1", "--device", "cpu"]).Invoke());
        Assert.Equal(1, root.Parse(["shapes", "train", "--arch", "latte", "--out", Path.Combine(_dir, "x"), "--steps", "1", "--minutes", "1", "--device", "cpu"]).Invoke());
        Assert.Equal(1, root.Parse(["shapes", "train", "--arch", "latte", "--out", Path.Combine(_dir, "x"), "--steps", "1", "--guidance", "3,x", "--device", "cpu"]).Invoke());
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
    }

    [Fact]
    public void GroundTruthClipsPassEveryGateAndPerClipReadingsAverageToCaptionAccuracy()
    {
        var dataset = new ShapesDataset(Seed: 4);
        var items = dataset.Items(0, 12, DatasetSplit.HeldOut);
        var (frames, captions) = dataset.Render(items, new RenderSettings { Height = 24, Width = 24 });
        using var _ = frames;
        var clips = Enumerable.Range(0, items.Count).Select(i => BaseModelEvaluation.Read(frames[i], captions[i], i)).ToList();
        var measured = CaptionAccuracy.Measure(Enumerable.Range(0, items.Count).Select(i => (frames[i], captions[i])));
        var evaluation = new BaseEvaluation(new CaptionAccuracy(clips.Average(c => c.Colour), clips.Average(c => c.Shape),
            clips.Average(c => c.Background), clips.Average(c => c.MotionCorrect ? 1.0 : 0.0), clips.Count), 25, 5, 4, 0, clips);
        Assert.Equal(measured, evaluation.Accuracy);
        Assert.True(evaluation.Passed, evaluation.Summary());
        Assert.All(clips, c => Assert.Equal(Captions.Parse(c.Caption).Appearance.Colour, c.ReadColour));
        Assert.Equal(BaseModelEvaluation.HeldOutCaptions(12, 4), captions);
    }
}
