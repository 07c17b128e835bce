using MotionTune.Customization;
using MotionTune.IO;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

public sealed class FullParameterTuningTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-full-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static LoraTargets VoTargets => LoraTargets.Preset(Architecture.Latte, "temporal-vo");

    [Fact]
    public void TargetsTheWeightsAndBiasesOfThePresetLayersInFloat32()
    {
        var model = TinyLatte.Model(0, ScalarType.BFloat16);
        using var full = FullParameterTuning.Attach(model, VoTargets, new FullTuningSettings { Tau = 700 });
        // 2 temporal blocks × (to_v, to_out.0) × (weight, bias)
        Assert.Equal(8, full.TrainableTensors.Count);
        Assert.Equal(4, full.ModuleNames.Count);
        Assert.All(full.TrainableTensors, p =>
        {
            Assert.Matches(@"^temporal_transformer_blocks\.\d\.attn1\.(to_v|to_out\.0)\.(weight|bias)$", p.Key);
            Assert.Equal(ScalarType.Float32, p.Value.dtype);
        });
        var weight = model.temporal_transformer_blocks[1].attn1.to_v.weight;
        Assert.True(full.TrainableTensors.Single(p => p.Key == "temporal_transformer_blocks.1.attn1.to_v.weight").Value.to(ScalarType.BFloat16).SameAs(weight));
        Assert.Throws<ArgumentException>(() => FullParameterTuning.Attach(model, LoraTargets.Parse(Architecture.Latte, "nothing\\.here"), new FullTuningSettings()));
    }

    [Fact]
    public void SwitchingCopiesTunedOrOriginalWeightsExactly()
    {
        var model = TinyLatte.Model(0, ScalarType.BFloat16);
        var originals = model.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        using var full = FullParameterTuning.Attach(model, VoTargets, new FullTuningSettings());
        using (no_grad())
            foreach (var (_, master) in full.TrainableTensors) master.add_(0.05);
        full.PublishWeights();

        var tunedNames = full.TrainableTensors.Select(p => p.Key).ToHashSet();
        var state = model.state_dict();
        foreach (var (name, master) in full.TrainableTensors)
            Assert.True(state[name].SameAs(master.to(ScalarType.BFloat16)), $"{name}: the model must compute with the tuned weights");
        Assert.All(originals.Where(p => !tunedNames.Contains(p.Key)), p => Assert.True(state[p.Key].SameAs(p.Value), $"{p.Key} changed"));

        for (int round = 0; round < 2; round++)
        {
            full.Active = false;
            Assert.All(originals, p => Assert.True(model.state_dict()[p.Key].SameAs(p.Value), $"{p.Key} is not the original"));
            full.Active = true;
            foreach (var (name, master) in full.TrainableTensors)
                Assert.True(model.state_dict()[name].SameAs(master.to(ScalarType.BFloat16)));
        }
        full.Dispose();
        Assert.All(originals, p => Assert.True(model.state_dict()[p.Key].SameAs(p.Value), "disposing restores the base model"));
    }

    [Fact]
    public void Bf16WeightsCannotTakeAdamStepsThatFloat32MastersAccumulate()
    {
        // Why the trainable copy is float32: 50 Adam steps of lr 1e-4 move a weight of 0.1 by 5e-3 in float32, but every
        // single step is below half of bf16's spacing there (2^-11 ≈ 4.9e-4) and rounds away.
        var bf16 = full(new long[] { 16 }, 0.1, ScalarType.BFloat16);
        var master = bf16.to(ScalarType.Float32);
        var bf16Adam = new AdamW([bf16], weightDecay: 0);
        var masterAdam = new AdamW([master], weightDecay: 0);
        var gradient = ones(16);
        for (int i = 0; i < 50; i++)
        {
            bf16Adam.Step([gradient.to(ScalarType.BFloat16)], 1e-4);
            masterAdam.Step([gradient], 1e-4);
        }
        var start = full(new long[] { 16 }, 0.1, ScalarType.BFloat16).to(ScalarType.Float32);
        double movedBf16 = (bf16.to(ScalarType.Float32) - start).abs().max().item<float>();
        double movedMaster = (master - start).abs().max().item<float>();
        output.WriteLine($"after 50 steps of lr 1e-4: bf16 weight moved {movedBf16:E2}, float32 master moved {movedMaster:E2}");
        Assert.True(bf16.SameAs(full(new long[] { 16 }, 0.1, ScalarType.BFloat16)), "bf16 updates round away");
        Assert.InRange(movedMaster, 4.5e-3, 5.5e-3);
    }

    [Fact]
    public void SavedTunedWeightsLoadOntoAFreshModel()
    {
        var model = TinyLatte.Model(0, ScalarType.BFloat16);
        var options = new CustomizationOptions { Full = true, Tau = 650, Targets = "temporal-vo", Steps = 3, LearningRate = 1e-2, CheckpointEvery = 0 };
        using var full = (FullParameterTuning)options.CreateCustomization(model, Architecture.Latte, "tiny-latte");
        new MotionCustomizer(new LatteDenoiser(model), model, full, TinyLatte.Scheduler(), options).Train(TinyLatte.Example());
        var path = Path.Combine(_dir, "tuned.safetensors");
        full.Save(path);

        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.Equal(full.TrainableTensors.Select(p => p.Key).Order(), file.Entries.Keys.Order());
            Assert.All(file.Entries.Values, e => Assert.Equal("F32", e.DType));
            var metadata = file.Metadata[FullParameterTuning.MetadataKey];
            output.WriteLine(metadata);
            Assert.Contains("\"method\": \"full\"", metadata);
            Assert.Contains("\"tau\": 650", metadata);
            Assert.Contains("\"targets\": \"temporal-vo\"", metadata);
            Assert.Contains("\"base_model\": \"tiny-latte\"", metadata);
            Assert.DoesNotContain("rank", metadata);
        }

        var x = randn(TinyLatte.LatentShape, generator: new Generator(2));
        var prompt = TinyLatte.Prompt(3);
        var t = tensor(new long[] { 800 });
        using var _ = no_grad();
        var expected = new LatteDenoiser(model).Predict(x, t, prompt);
        var fresh = TinyLatte.Model(0, ScalarType.BFloat16);
        var before = new LatteDenoiser(fresh).Predict(x, t, prompt);
        using var loaded = CustomizationFile.Load(fresh, path);
        Assert.IsType<FullParameterTuning>(loaded);
        Assert.Equal(650, loaded.Tau);
        Assert.True(new LatteDenoiser(fresh).Predict(x, t, prompt).SameAs(expected));
        loaded.Active = false;
        Assert.True(new LatteDenoiser(fresh).Predict(x, t, prompt).SameAs(before));
        Assert.False(before.SameAs(expected));
    }

    [Fact]
    public void FilesThatDoNotFitAreRejectedClearly()
    {
        var model = TinyLatte.Model();
        var path = Path.Combine(_dir, "bad.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["transformer.temporal_transformer_blocks.0.attn1.to_v.weight"] = zeros(3, 3),
            ["temporal_transformer_blocks.9.attn1.to_v.weight"] = zeros(16, 16),
        });
        var message = Assert.Throws<CheckpointFormatException>(() => FullParameterTuning.Load(model, path)).Message;
        Assert.Contains("shape [3, 3], the model's is [16, 16]", message);
        Assert.Contains("temporal_transformer_blocks.9.attn1.to_v.weight: no such Linear", message);
    }
}
