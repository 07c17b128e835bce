using System.Text.Json;
using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>Locates the reference fixtures: <c>$MOTIONTUNE_FIXTURES</c>, else <c>../shared/fixtures/reference</c> beside the repository.</summary>
public static class Fixtures
{
    /// <summary>Environment variable that overrides the fixture root.</summary>
    public const string EnvironmentVariable = "MOTIONTUNE_FIXTURES";

    private static readonly Lazy<string> RootPath = new(() =>
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnv)
        {
            if (!Directory.Exists(fromEnv)) throw new DirectoryNotFoundException($"{EnvironmentVariable}={fromEnv} does not exist.");
            return Path.GetFullPath(fromEnv);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "MotionTune.sln"))) continue;
            var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures", "reference"));
            if (Directory.Exists(candidate)) return candidate;
            throw new DirectoryNotFoundException($"Fixtures not found at {candidate}; set {EnvironmentVariable}.");
        }
        throw new DirectoryNotFoundException($"Repository root not found above {AppContext.BaseDirectory}; set {EnvironmentVariable}.");
    });

    /// <summary>The fixture root.</summary>
    public static string Root => RootPath.Value;

    /// <summary>Every case folder (one holding a case.json), by name.</summary>
    public static IEnumerable<string> CaseNames() =>
        Directory.GetDirectories(Root)
            .Where(d => File.Exists(Path.Combine(d, "case.json")))
            .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    /// <summary>Opens a case.</summary>
    public static FixtureCase Open(string name) => new(Path.Combine(Root, name));
}

/// <summary>One fixture case: its case.json and its io.safetensors.</summary>
public sealed class FixtureCase : IDisposable
{
    private readonly Lazy<SafeTensorsFile> _io;

    /// <summary>Folder name.</summary>
    public string Name { get; }
    /// <summary>Folder path.</summary>
    public string Dir { get; }
    /// <summary>The parsed case.json.</summary>
    public JsonElement Case { get; }
    /// <summary>case.json's kind.</summary>
    public string Kind { get; }

    internal FixtureCase(string dir)
    {
        Dir = dir;
        Name = Path.GetFileName(dir);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "case.json")));
        Case = doc.RootElement.Clone();
        Kind = Case.GetProperty("kind").GetString() ?? throw new InvalidDataException($"{dir}/case.json has no kind");
        _io = new(() => SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors")));
    }

    /// <summary>The names stored in io.safetensors.</summary>
    public IEnumerable<string> IoNames => _io.Value.Entries.Keys;

    /// <summary>A tensor from io.safetensors.</summary>
    public Tensor Io(string name) => _io.Value.Read(name);

    /// <summary>True when io.safetensors holds <paramref name="name"/>.</summary>
    public bool HasIo(string name) => _io.Value.Entries.ContainsKey(name);

    /// <summary>A path inside the case folder.</summary>
    public string PathOf(string relative) => Path.Combine(Dir, relative);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_io.IsValueCreated) _io.Value.Dispose();
    }
}
