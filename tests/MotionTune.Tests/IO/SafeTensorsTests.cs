using System.Text;
using MotionTune.IO;
using MotionTune.Runtime;
using MotionTune.Tests.Parity;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MotionTune.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-st-").FullName;

    public SafeTensorsTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, Tensor> Sample()
    {
        manual_seed(3);
        return new()
        {
            ["a.weight"] = randn(3, 5),
            ["half"] = randn(4, 2).to(ScalarType.Float16),
            ["brain"] = randn(7).to(ScalarType.BFloat16),
            ["ids"] = arange(10, dtype: ScalarType.Int64).reshape(2, 5),
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros(0, 4),
        };
    }

    [Fact]
    public void RoundTripKeepsValuesDtypesShapesAndMetadata()
    {
        var path = Path.Combine(_dir, "x.safetensors");
        var tensors = Sample();
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["rank"] = "4" });
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("4", file.Metadata["rank"]);
        Assert.Equal(tensors.Keys.Order(), file.Entries.Keys.Order());
        foreach (var (name, t) in tensors)
        {
            using var back = file.Read(name);
            Assert.Equal(t.dtype, back.dtype);
            Assert.Equal(t.shape, back.shape);
            Assert.True(t.SameAs(back), name);
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void ReadsWhatAnIndependentWriterWroteAndViceVersa()
    {
        var tensors = Sample().Where(p => p.Value.numel() > 0).ToDictionary();
        var theirs = Path.Combine(_dir, "theirs.safetensors");
        Safetensors.SaveStateDict(theirs, tensors);
        using (var file = SafeTensorsFile.Open(theirs))
            foreach (var (name, t) in tensors)
                Assert.True(t.SameAs(file.Read(name)), name);

        var ours = Path.Combine(_dir, "ours.safetensors");
        SafeTensors.Save(ours, tensors);
        var loaded = Safetensors.LoadStateDict(ours);
        foreach (var (name, t) in tensors) Assert.True(t.SameAs(loaded[name]), name);
    }

    [Fact]
    public void ReadConvertsDtype()
    {
        var path = Path.Combine(_dir, "c.safetensors");
        var t = randn(4, 4).to(ScalarType.BFloat16);
        SafeTensors.Save(path, [new("w", t)]);
        using var file = SafeTensorsFile.Open(path);
        var f32 = file.Read("w", ScalarType.Float32, CPU);
        Assert.Equal(ScalarType.Float32, f32.dtype);
        Assert.True(f32.SameAs(t.to(ScalarType.Float32)));
    }

    [Fact]
    public void SavingOverALargerFileLeavesExactlyTheNewContent()
    {
        var path = Path.Combine(_dir, "over.safetensors");
        SafeTensors.Save(path, [new("big", randn(1000, 100))]);
        SafeTensors.Save(path, [new("small", ones(2))]);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(["small"], file.Entries.Keys);
        long header = BitConverter.ToInt64(File.ReadAllBytes(path).AsSpan(0, 8));
        Assert.Equal(8 + header + 8, new FileInfo(path).Length);
    }

    [Fact]
    public void EveryWeightFileUnderTheFixtureRootOpens()
    {
        var files = Directory.GetFiles(Fixtures.Root, "*.safetensors", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var path in files)
        {
            using var file = SafeTensorsFile.Open(path);
            Assert.NotEmpty(file.Entries);
            foreach (var name in file.Entries.Keys) file.Read(name).Dispose();
        }
    }

    [Fact]
    public void CorruptHeaderIsReportedWithThePath()
    {
        var path = Path.Combine(_dir, "corrupt.safetensors");
        var json = Encoding.UTF8.GetBytes("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[8]]);
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void ImpossibleHeaderLengthIsReported()
    {
        var path = Path.Combine(_dir, "garbage.safetensors");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0xff, 64).ToArray());
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("header length", e.Message);
    }

    [Fact]
    public void TruncatedFileIsReportedWithTheTensorName()
    {
        var path = Path.Combine(_dir, "t.safetensors");
        SafeTensors.Save(path, [new("first", randn(10)), new("second", randn(100))]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^40]);
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("second", e.Message);
    }

    [Fact]
    public void UnknownDtypeIsReported()
    {
        var path = Path.Combine(_dir, "f8.safetensors");
        var json = Encoding.UTF8.GetBytes("{\"w\": {\"dtype\": \"F8_E4M3\", \"shape\": [4], \"data_offsets\": [0, 4]}}");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, 1, 2, 3, 4]);
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("F8_E4M3", e.Message);
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(Path.Combine(_dir, "nope.safetensors")));
        Assert.Contains("nope.safetensors", e.Message);
    }
}
