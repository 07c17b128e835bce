using System.Text.Json;
using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Tests.IO;

public sealed class CheckpointLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-ck-").FullName;

    public CheckpointLoadingTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Tiny : nn.Module<Tensor, Tensor>
    {
        public readonly Linear proj_in;
        public readonly TorchSharp.Modules.ModuleList<Linear> blocks;
        public readonly GroupNorm norm;

        public Tiny() : base(nameof(Tiny))
        {
            proj_in = new Linear(4, 8);
            blocks = new TorchSharp.Modules.ModuleList<Linear>(new Linear(8, 8), new Linear(8, 8, hasBias: false));
            norm = new GroupNorm(2, 8);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => norm.forward(blocks[1].forward(blocks[0].forward(proj_in.forward(x))));
    }

    private static Dictionary<string, Tensor> StateOf(nn.Module m) =>
        m.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());

    [Fact]
    public void LoadsSingleFileAndConvertsToTheModuleDtype()
    {
        manual_seed(1);
        var source = new Tiny();
        var path = Path.Combine(_dir, "model.safetensors");
        SafeTensors.Save(path, StateOf(source).Select(p => KeyValuePair.Create(p.Key, p.Value.to(ScalarType.BFloat16))));

        Tiny target;
        using (ParameterFactory.Scope(CPU, ScalarType.Float32, initialize: false)) target = new Tiny();
        var report = StateDictLoader.LoadFolder(target, _dir);
        Assert.Equal(7, report.Loaded);
        foreach (var (name, t) in target.state_dict())
        {
            Assert.Equal(ScalarType.Float32, t.dtype);
            Assert.True(t.SameAs(source.state_dict()[name].to(ScalarType.BFloat16).to(ScalarType.Float32)), name);
        }
    }

    [Fact]
    public void LoadsShardedCheckpointsUnderBothNamingSchemes()
    {
        foreach (var stem in new[] { "diffusion_pytorch_model", "model" })
        {
            var dir = Directory.CreateDirectory(Path.Combine(_dir, stem)).FullName;
            manual_seed(2);
            var state = StateOf(new Tiny());
            var keys = state.Keys.Order().ToList();
            var shards = new[] { keys.Take(3).ToList(), keys.Skip(3).ToList() };
            var map = new Dictionary<string, string>();
            for (int i = 0; i < 2; i++)
            {
                var file = $"{stem}-0000{i + 1}-of-00002.safetensors";
                SafeTensors.Save(Path.Combine(dir, file), shards[i].Select(k => KeyValuePair.Create(k, state[k])));
                foreach (var k in shards[i]) map[k] = file;
            }
            File.WriteAllText(Path.Combine(dir, $"{stem}.safetensors.index.json"),
                JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
            var target = new Tiny();
            StateDictLoader.LoadFolder(target, dir);
            foreach (var (name, t) in target.state_dict()) Assert.True(t.SameAs(state[name]), $"{stem}: {name}");
        }
    }

    [Fact]
    public void StrictLoadReportsMissingUnexpectedAndShapeMismatchTogetherAndChangesNothing()
    {
        var state = StateOf(new Tiny());
        state.Remove("norm.bias");
        state["extra.weight"] = zeros(3);
        state["proj_in.weight"] = zeros(8, 5);
        var path = Path.Combine(_dir, "bad.safetensors");
        SafeTensors.Save(path, state);

        var target = new Tiny();
        var before = StateOf(target);
        using var source = WeightSource.FromFile(path);
        var e = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(target, source));
        Assert.Equal(["norm.bias"], e.Missing);
        Assert.Equal(["extra.weight"], e.Unexpected);
        Assert.Single(e.ShapeMismatches);
        Assert.Contains("proj_in.weight", e.Message);
        Assert.Contains("[8, 5]", e.Message);
        Assert.Contains(path, e.Message);
        foreach (var (name, t) in target.state_dict()) Assert.True(t.SameAs(before[name]), $"{name} changed");
    }

    [Fact]
    public void KeyMapAndNonStrictLoads()
    {
        var state = StateOf(new Tiny()).ToDictionary(p => "model." + p.Key, p => p.Value);
        state["model.unused"] = zeros(1);
        var path = Path.Combine(_dir, "prefixed.safetensors");
        SafeTensors.Save(path, state);
        using var source = WeightSource.FromFile(path);
        var report = StateDictLoader.Load(new Tiny(), source, new LoadOptions { Strict = false, KeyMap = k => k["model.".Length..] });
        Assert.Equal(7, report.Loaded);
        Assert.Equal(["model.unused"], report.Unexpected);
    }

    [Fact]
    public void MissingWeightsInAFolderAreReportedWithWhatIsThere()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{}");
        var e = Assert.Throws<FileNotFoundException>(() => WeightSource.FromFolder(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
    }

    [Fact]
    public void MetaDeviceBuildsShapesWithoutMemory()
    {
        Tiny model;
        using (ParameterFactory.Scope(META)) model = new Tiny();
        Assert.All(model.parameters(), p => Assert.True(p.is_meta));
        Assert.Equal([8L, 4L], model.proj_in.weight.shape);
    }
}
