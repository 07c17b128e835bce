using MotionTune.Customization;
using MotionTune.Demo;
using MotionTune.Evaluation;
using MotionTune.Models.Layers;
using MotionTune.Models.Transformers;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The in-memory τ sweep on the bundled CogVideoX-style model (CPU, a few steps).</summary>
public sealed class ShapesSweepTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-sweep-").FullName;

    static ShapesSweepTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void VariantsAreTheTausThenTheAblationsAtTheirTau()
    {
        var variants = ShapesSweep.Variants(new ShapesSweepOptions { Model = "m", Output = "o", Taus = [1000, 500, 0], AblationTau = 700 });
        Assert.Equal(["qkvo r4@1000", "qkvo r4@500", "qkvo r4@0", "vo r4@700", "qkvo r8@700", "qkvo r16@700", "qkvo full@700", "qkvo r4@700"],
            variants.Select(v => $"{v.Name}@{v.Tau}"));
        Assert.Null(variants[0].Customization); // τ = 1000: the untuned base model
        Assert.All(variants.Skip(1), v => Assert.Equal(v.Tau, v.Customization!.Tau));
        Assert.Equal("temporal-vo", variants[3].Customization!.Targets);
        Assert.Equal(16, variants[5].Customization!.Rank);
        Assert.True(variants[6].Customization!.Full);

        // A subset of the ablations, to split them over processes: the rank-4 reference only where asked for.
        var some = ShapesSweep.Variants(new ShapesSweepOptions { Model = "m", Output = "o", Taus = [], AblationTau = 700, Ablations = ["full"] });
        Assert.Equal(["qkvo full@700"], some.Select(v => $"{v.Name}@{v.Tau}"));
        some = ShapesSweep.Variants(new ShapesSweepOptions { Model = "m", Output = "o", Taus = [], AblationTau = 700, Ablations = ["r4", "vo"] });
        Assert.Equal(["vo r4@700", "qkvo r4@700"], some.Select(v => $"{v.Name}@{v.Tau}"));
        Assert.Throws<ArgumentException>(() => ShapesSweep.Variants(new ShapesSweepOptions { Model = "m", Output = "o", Ablations = ["r32"] }));
    }

    [Fact]
    public void WritesOneRecordPerSampleWithExactMetricsAndResumes()
    {
        var options = new ShapesSweepOptions
        {
            Model = BundledModels.Resolve(BundledModels.Default), Output = Path.Combine(_dir, "sweep"), Taus = [1000, 500],
            AblationTau = null, Tasks = 1, Seeds = 2, Kinds = [EditKinds.Style], Steps = 2, SampleSteps = 2, Device = CPU,
        };
        var lines = new List<string>();
        var jsonl = ShapesSweep.Run(options, lines.Add);
        var records = EvaluationJsonl.Read(jsonl).Select(r => r.Record).ToList();
        Assert.Equal(4, records.Count); // 2 taus x 1 task x 1 edit x 2 seeds
        Assert.Equal([500, 500, 1000, 1000], records.Select(r => r.Tau).Order());
        Assert.All(records, r =>
        {
            Assert.Equal("style", r.PromptKind);
            Assert.InRange(r.Extra["alignment_colour"], 0, 1);
            Assert.True(r.Extra.ContainsKey("motion_diversity"));
        });
        Assert.Contains(lines, l => l.Contains("base model"));
        Assert.Contains(lines, l => l.Contains("customized"));

        // A rerun finds every sample done and appends nothing.
        var again = new List<string>();
        ShapesSweep.Run(options, again.Add);
        Assert.Equal(4, EvaluationJsonl.Read(jsonl).Count);
        Assert.DoesNotContain(again, l => l.Contains("customized"));

        // An interrupted run (the last record lost) is completed without writing any sample twice.
        var kept = File.ReadAllLines(jsonl);
        File.WriteAllLines(jsonl, kept[..^1]);
        ShapesSweep.Run(options, _ => { });
        var resumed = EvaluationJsonl.Read(jsonl).Select(r => r.Record).ToList();
        Assert.Equal(4, resumed.Count);
        Assert.Equal(4, resumed.Select(r => (r.Tau, r.Seed)).Distinct().Count());
    }

    [Fact]
    public void CogVideoXTakesFloat32InputsWithBf16Weights()
    {
        // A trainer's noisy latents are float32 while a frozen GPU base is bf16; the model casts (it failed before).
        var spec = BaseModels.Spec(Architecture.CogVideoX);
        manual_seed(1);
        using (ParameterFactory.Scope(CPU, ScalarType.BFloat16))
        using (var model = (CogVideoXTransformer3DModel)spec.CreateDenoiser())
        using (no_grad())
        {
            var text = spec.TextConfig;
            using var output = model.forward(randn([1, 16, 3, 24, 24]), randn([1, text.MaxPositionEmbeddings, text.HiddenSize]), tensor(500L));
            Assert.Equal(ScalarType.BFloat16, output.dtype);
            Assert.Equal([1L, 16, 3, 24, 24], output.shape);
        }
    }
}
