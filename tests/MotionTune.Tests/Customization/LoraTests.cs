using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MotionTune.Tests.Customization;

public sealed class LoraTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-lora-").FullName;

    public LoraTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Names like ModelScope's: transformer_in.transformer_blocks.0.attn1.to_q, plus a spatial block that must stay untouched.</summary>
    private sealed class TinyUnet : nn.Module<Tensor, Tensor>
    {
        public readonly TemporalStack transformer_in;
        public readonly BasicTransformerBlock spatial;

        public TinyUnet() : base(nameof(TinyUnet))
        {
            transformer_in = new TemporalStack();
            spatial = new BasicTransformerBlock(8, 2, 4, new TransformerBlockOptions());
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => spatial.forward(transformer_in.transformer_blocks[0].forward(x));
    }

    private sealed class TemporalStack : nn.Module
    {
        public readonly ModuleList<BasicTransformerBlock> transformer_blocks;

        public TemporalStack() : base(nameof(TemporalStack))
        {
            transformer_blocks = new ModuleList<BasicTransformerBlock>(
                new BasicTransformerBlock(8, 2, 4, new TransformerBlockOptions { DoubleSelfAttention = true }));
            RegisterComponents();
        }
    }

    private static void Randomize(LoraNetwork lora)
    {
        using var _ = no_grad();
        foreach (var p in lora.Parameters()) p.normal_(0, 0.3);
    }

    [Fact]
    public void PresetTargetsExactlyTheTemporalProjections()
    {
        var model = new TinyUnet();
        using var lora = LoraNetwork.Attach(model, LoraTargets.Preset(Architecture.ModelScope, "temporal-qkvo"), new LoraSettings());
        Assert.Equal(8, lora.ModuleNames.Count);
        Assert.All(lora.ModuleNames, n => Assert.StartsWith("transformer_in.transformer_blocks.0.attn", n));
        using var vo = LoraNetwork.Attach(new TinyUnet(), LoraTargets.Preset(Architecture.ModelScope, "temporal-vo"), new LoraSettings());
        Assert.Equal(4, vo.ModuleNames.Count);
        Assert.All(vo.ModuleNames, n => Assert.Matches(@"\.(to_v|to_out\.0)$", n));
    }

    [Fact]
    public void FreshAdapterChangesNothingAndTrainedOneMatchesTheMergedWeights()
    {
        manual_seed(0);
        var model = new TinyUnet();
        var x = randn(2, 5, 8);
        var baseline = model.forward(x);
        using var lora = LoraNetwork.Attach(model, LoraTargets.Preset(Architecture.ModelScope, "temporal-qkvo"), new LoraSettings { Rank = 2, Alpha = 3 });
        Assert.True(model.forward(x).SameAs(baseline), "a fresh LoRA (B = 0) must not change the output");

        Randomize(lora);
        var separate = model.forward(x);
        Assert.False(separate.allclose(baseline, 1e-4, 1e-4));

        var weightsBefore = model.transformer_in.transformer_blocks[0].attn1.to_q.weight.clone();
        lora.Merge();
        Assert.True(model.forward(x).allclose(separate, 1e-5, 1e-5), "merged and separate paths differ");

        lora.Active = false;
        Assert.True(model.transformer_in.transformer_blocks[0].attn1.to_q.weight.SameAs(weightsBefore), "unmerging must restore the weights exactly");
        Assert.True(model.forward(x).SameAs(baseline));
        lora.Active = true;
        Assert.True(model.forward(x).allclose(separate, 1e-5, 1e-5));
        lora.Unmerge();
        Assert.True(model.forward(x).allclose(separate, 1e-5, 1e-5));
        lora.Active = false;
        Assert.True(model.forward(x).SameAs(baseline));
    }

    [Fact]
    public void SaveLoadRoundTripKeepsSettingsAndOutputs()
    {
        manual_seed(1);
        var model = new TinyUnet();
        var x = randn(1, 4, 8);
        var settings = new LoraSettings { Rank = 3, Alpha = 6, Tau = 700, BaseModel = "tiny", Architecture = Architecture.ModelScope };
        using var lora = LoraNetwork.Attach(model, LoraTargets.Preset(Architecture.ModelScope, "temporal-vo"), settings);
        Randomize(lora);
        var expected = model.forward(x);
        lora.BeginTraining(); // packs the adapters into one buffer (slices with offsets): what a trained LoRA saves from
        lora.EndTraining();
        Assert.NotNull(lora.Packed);
        var path = Path.Combine(_dir, "lora.safetensors");
        lora.Save(path);

        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.All(file.Entries.Keys, k => Assert.StartsWith("unet.transformer_in.", k));
            Assert.Contains("\"lora_alpha\": 6", file.Metadata[LoraNetwork.DiffusersMetadataKey]);
            Assert.Equal("pt", file.Metadata["format"]);
        }

        lora.Detach();
        using var loaded = LoraNetwork.Load(model, path);
        Assert.Equal(700, loaded.Settings.Tau);
        Assert.Equal(3, loaded.Settings.Rank);
        Assert.True(model.forward(x).allclose(expected, 1e-6, 1e-6));
    }

    [Fact]
    public void LoadsForeignNamingWithAlphaTensors()
    {
        manual_seed(2);
        var model = new TinyUnet();
        var a = randn(2, 8);
        var b = randn(8, 2);
        var path = Path.Combine(_dir, "kohya.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["base_model.model.transformer_in.transformer_blocks.0.attn1.to_v.lora_down.weight"] = a,
            ["base_model.model.transformer_in.transformer_blocks.0.attn1.to_v.lora_up.weight"] = b,
            ["base_model.model.transformer_in.transformer_blocks.0.attn1.to_v.alpha"] = tensor(1.0f),
        });
        var layer = model.transformer_in.transformer_blocks[0].attn1.to_v;
        var x = randn(3, 8);
        var expected = layer.forward(x) + x.matmul(a.t()).matmul(b.t()) * 0.5;
        using var lora = LoraNetwork.Load(model, path);
        Assert.True(layer.forward(x).allclose(expected, 1e-5, 1e-5));
    }

    [Fact]
    public void MismatchedOrEmptyFilesAreRejectedClearly()
    {
        var model = new TinyUnet();
        var path = Path.Combine(_dir, "bad.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["transformer_in.transformer_blocks.0.attn1.to_q.lora_A.weight"] = zeros(4, 9),
            ["transformer_in.transformer_blocks.0.attn1.to_q.lora_B.weight"] = zeros(8, 4),
            ["nonexistent.to_q.lora_A.weight"] = zeros(4, 8),
            ["nonexistent.to_q.lora_B.weight"] = zeros(8, 4),
        });
        var e = Assert.Throws<CheckpointFormatException>(() => LoraNetwork.Load(model, path));
        Assert.Contains("do not fit", e.Message);
        Assert.Contains("nonexistent.to_q: no such Linear", e.Message);

        var empty = Path.Combine(_dir, "empty.safetensors");
        SafeTensors.Save(empty, new Dictionary<string, Tensor> { ["w"] = zeros(1) });
        Assert.Throws<CheckpointFormatException>(() => LoraNetwork.Load(model, empty));
        Assert.Throws<ArgumentException>(() => LoraTargets.Parse(Architecture.Latte, "(unclosed"));
    }
}
