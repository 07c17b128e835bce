using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

/// <summary>
/// Names-and-shapes snapshots of full-size models, one "name\t[shape]" line per parameter, kept in the source tree.
/// Set <c>MOTIONTUNE_UPDATE_SNAPSHOTS=1</c> to (re)write a snapshot instead of comparing.
/// </summary>
internal static class ShapeSnapshot
{
    /// <summary>A path inside the repository (the folder holding MotionTune.sln).</summary>
    public static string RepoPath(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MotionTune.sln")))
                return Path.Combine(dir.FullName, relative);
        throw new DirectoryNotFoundException($"Repository root (MotionTune.sln) not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>The snapshot text of a module's parameters, in registration order.</summary>
    public static string Render(nn.Module module)
    {
        var text = new StringBuilder();
        foreach (var (name, parameter) in module.named_parameters())
            text.Append(name).Append('\t').Append('[').Append(string.Join(", ", parameter.shape)).Append("]\n");
        return text.ToString();
    }

    /// <summary>Fails with the first differing lines unless the module matches the snapshot file.</summary>
    public static void AssertMatches(nn.Module module, string snapshotRelativePath)
    {
        var path = RepoPath(snapshotRelativePath);
        var actual = Render(module);
        if (Environment.GetEnvironmentVariable("MOTIONTUNE_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"Snapshot {path} is missing; run once with MOTIONTUNE_UPDATE_SNAPSHOTS=1 and review it.");
        var expectedLines = File.ReadAllLines(path);
        var actualLines = actual.TrimEnd('\n').Split('\n');
        var missing = expectedLines.Except(actualLines).Take(10).ToList();
        var extra = actualLines.Except(expectedLines).Take(10).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && expectedLines.Length == actualLines.Length,
            $"{snapshotRelativePath}: {expectedLines.Length} lines expected, {actualLines.Length} built.\n" +
            $"  in the snapshot only: {string.Join(" | ", missing)}\n  in the model only: {string.Join(" | ", extra)}");
    }

    /// <summary>
    /// Checks parameter names and shapes against <c>Snapshots/NAME.txt</c> beside the calling test's folder (copied to the
    /// test output); returns the parameter count. <c>MOTIONTUNE_WRITE_SNAPSHOTS=1</c> rewrites the file and fails the test.
    /// </summary>
    public static long Verify(nn.Module module, string name, ITestOutputHelper output, [CallerFilePath] string callerPath = "")
    {
        var lines = module.state_dict().Select(p => $"{p.Key}\t[{string.Join(", ", p.Value.shape)}]").ToList();
        long count = module.state_dict().Sum(p => p.Value.numel());
        output.WriteLine($"{name}: {lines.Count} tensors, {count:N0} parameters");

        if (Environment.GetEnvironmentVariable("MOTIONTUNE_WRITE_SNAPSHOTS") == "1")
        {
            var path = Path.Combine(Path.GetDirectoryName(callerPath)!, "Snapshots", $"{name}.txt");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, string.Join("\n", lines) + "\n", new UTF8Encoding(false));
            Assert.Fail($"Wrote {path}; unset MOTIONTUNE_WRITE_SNAPSHOTS and check it by hand against the reference checkpoint.");
        }

        var area = Path.GetFileName(Path.GetDirectoryName(callerPath))!;
        var snapshot = Path.Combine(AppContext.BaseDirectory, "Models", area, "Snapshots", $"{name}.txt");
        Assert.True(File.Exists(snapshot), $"No snapshot {snapshot}; run with MOTIONTUNE_WRITE_SNAPSHOTS=1 to create it.");
        var expected = File.ReadAllLines(snapshot).Where(l => l.Length > 0).ToList();
        var missing = expected.Except(lines).ToList();
        var extra = lines.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{name} differs from its snapshot.\n  in the snapshot only: {string.Join("; ", missing.Take(8))}\n  in the model only: {string.Join("; ", extra.Take(8))}");
        Assert.Equal(expected, lines); // same order too
        return count;
    }
}
