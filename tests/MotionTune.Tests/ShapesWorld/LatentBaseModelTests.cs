using System.CommandLine;
using MotionTune.Cli.Commands;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using MotionTune.ShapesWorld;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The ShapesWorld VAE and the latent-space base models trained on it (CPU, a few steps each).</summary>
public sealed class LatentBaseModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-latent-").FullName;

    static LatentBaseModelTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string TrainVae(string name = "vae")
    {
        var folder = Path.Combine(_dir, name);
        ShapesVae.Train(new VaeTrainingOptions { Output = folder, Steps = 2, Clips = 1, EvalClips = 1, Device = CPU, Command = "motiontune shapes train-vae --test" }, _ => { });
        return folder;
    }

    [Fact]
    public void LatentSpecsTakeTheVaesChannelsAndSizeWithOneCellPatches()
    {
        var vae = ShapesVae.Config(latentChannels: 4);
        var latte = BaseModels.Latte().InLatentSpace(vae);
        var latteConfig = Assert.IsType<LatteTransformer3DConfig>(latte.DenoiserConfig);
        Assert.Equal((4, 4, 6, 1), (latteConfig.InChannels, latteConfig.OutChannels, latteConfig.SampleSize, latteConfig.PatchSize ?? 0));
        var cog = Assert.IsType<CogVideoXTransformer3DConfig>(BaseModels.CogVideoX().InLatentSpace(vae).DenoiserConfig);
        Assert.Equal((4, 4, 6, 6, 1), (cog.InChannels, cog.OutChannels, cog.SampleHeight, cog.SampleWidth, cog.PatchSize));
        var modelscope = BaseModels.ModelScope().InLatentSpace(vae);
        var unet = Assert.IsType<UNet3DConditionConfig>(modelscope.DenoiserConfig);
        Assert.Equal((4, 4, 6), (unet.InChannels, unet.OutChannels, unet.SampleSize ?? 0));
        Assert.Equal(4, modelscope.SpatialCompression);
        Assert.Equal(1, BaseModels.ModelScope().SpatialCompression);

        // The UNet's levels do not halve 6 evenly (6, 3, 2); its up path still restores the input size.
        manual_seed(3);
        using (ParameterFactory.Scope(CPU))
        using (var model = (UNet3DConditionModel)modelscope.CreateDenoiser())
        using (NewDisposeScope())
        {
            var latents = randn([1, 4, 16, 6, 6]);
            var text = randn([1, modelscope.MaxLength, modelscope.TextConfig.HiddenSize]);
            var output = BaseModelSpec.Wrap(model, 4).Predict(latents, tensor(new long[] { 500 }), new TextCondition(text, null));
            Assert.Equal(latents.shape, output.shape);
        }
    }

    [Fact]
    public void ZeroTerminalSnrGivesTheUNetTheTransformersSchedule()
    {
        var spec = BaseModels.ModelScope().WithZeroTerminalSnr();
        Assert.True(spec.Scheduler.RescaleBetasZeroSnr);
        Assert.Equal("v_prediction", spec.Scheduler.PredictionType);
        Assert.Equal("trailing", spec.Scheduler.TimestepSpacing);
        Assert.Equal(("scaled_linear", 0.00085, 0.012), (spec.Scheduler.BetaSchedule, spec.Scheduler.BetaStart, spec.Scheduler.BetaEnd));
        Assert.Equal(0, DdimScheduler.Create(spec.Scheduler).AlphasCumprod[^1], 12);
        var cog = BaseModels.CogVideoX();
        Assert.Same(cog, cog.WithZeroTerminalSnr()); // already zero terminal SNR
    }

    [Fact]
    public void TheVaeTrainsAndWritesALoadableFolderWithItsScaleAndCard()
    {
        var folder = TrainVae();
        var vae = AutoencoderKL.FromPretrained(folder, CPU);
        using (vae)
        {
            Assert.Equal(4, vae.SpatialCompression);
            Assert.True(vae.Config.ScalingFactor > 0 && double.IsFinite(vae.Config.ScalingFactor));
            using var _ = no_grad();
            using var latents = vae.EncodeVideo(zeros([1, 3, 2, 24, 24]));
            Assert.Equal(new long[] { 1, 4, 2, 6, 6 }, latents.shape);
        }
        var card = File.ReadAllText(Path.Combine(folder, "README.md"));
        Assert.Contains("motiontune shapes train-vae --test", card);
        Assert.Contains("PSNR", card);
        Assert.Empty(Directory.GetDirectories(_dir, ".vae.*"));

        Assert.Throws<IOException>(() => ShapesVae.Train(new VaeTrainingOptions { Output = folder, Steps = 1, Device = CPU }, _ => { }));
        var error = Assert.Throws<ArgumentException>(() => ShapesVae.Train(new VaeTrainingOptions { Output = Path.Combine(_dir, "bad"), Steps = 1, Minutes = 1, KlWeight = -1 }, _ => { }));
        Assert.Contains("KL weight", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }

    [Fact]
    public void ALatentRunWritesAFolderWithItsVaeThatLoadsAndContinues()
    {
        var vaeFolder = TrainVae();
        BaseTrainingOptions Options(string output) => new()
        {
            Architecture = Architecture.Latte, Output = output, Steps = 1, Batch = 2, Device = CPU, PoolClips = 2,
            EvalSamples = 1, EvalSteps = 2, GuidanceCandidates = [3.0], EmaDecay = 0,
        };
        var first = Path.Combine(_dir, "first");
        var result = BaseModelTraining.Run(Options(first) with { Vae = vaeFolder }, _ => { });
        Assert.True(double.IsFinite(result.FinalLoss));
        Assert.True(File.Exists(Path.Combine(first, "vae", "README.md")));
        Assert.Contains("latents of a small KL VAE", File.ReadAllText(Path.Combine(first, "README.md")));

        using (var pipeline = VideoPipeline.FromPretrained(first, CPU))
        {
            Assert.IsType<FrameVae>(pipeline.Autoencoder);
            using var frames = pipeline.Generate("a red star moving left on a white background", new GenerationOptions { Steps = 2, Seed = 1 });
            Assert.Equal(new long[] { 16, 24, 24, 3 }, frames.shape);
        }

        // A continued run keeps the first folder's VAE; --vae beside --init-from is refused before anything is written.
        var second = Path.Combine(_dir, "second");
        BaseModelTraining.Run(Options(second) with { InitFrom = first }, _ => { });
        using (var a = WeightSource.FromFolder(Path.Combine(first, "vae")))
        using (var b = WeightSource.FromFolder(Path.Combine(second, "vae")))
        using (var x = a.Read("decoder.conv_out.weight"))
        using (var y = b.Read("decoder.conv_out.weight"))
            Assert.True(x.equal(y).all().item<bool>());
        var error = Assert.Throws<ArgumentException>(() => BaseModelTraining.Run(Options(Path.Combine(_dir, "third")) with { InitFrom = first, Vae = vaeFolder }, _ => { }));
        Assert.Contains("--vae", error.Message);
        Assert.Throws<ArgumentException>(() => BaseModelTraining.Run(Options(Path.Combine(_dir, "third")) with { Vae = Path.Combine(_dir, "nowhere") }, _ => { }));
        Assert.False(Directory.Exists(Path.Combine(_dir, "third")));
    }

    [Fact]
    public void TrainVaeCommandRunsAndRejectsBadOptions()
    {
        var root = new RootCommand { GlobalOptions.LibTorch };
        root.Subcommands.Add(ShapesCommand.Create());
        var vae = Path.Combine(_dir, "cli-vae");
        Assert.Equal(0, root.Parse(["shapes", "train-vae", "--out", vae, "--steps", "1", "--clips", "1", "--eval-clips", "1", "--device", "cpu"]).Invoke());
        Assert.True(File.Exists(Path.Combine(vae, "config.json")));
        Assert.Equal(1, root.Parse(["shapes", "train-vae", "--out", Path.Combine(_dir, "x"), "--steps", "1", "--clips", "0", "--device", "cpu"]).Invoke());
        Assert.Equal(1, root.Parse(["shapes", "train", "--arch", "latte", "--out", Path.Combine(_dir, "x"), "--steps", "1", "--vae", Path.Combine(_dir, "nowhere"), "--device", "cpu"]).Invoke());
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
    }
}
