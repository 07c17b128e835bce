using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models;

/// <summary>
/// Checks a module's parameter names and shapes against a committed snapshot (<c>Snapshots/NAME.txt</c>, one
/// "name TAB [shape]" line per parameter, in state_dict order). Set <c>MOTIONTUNE_WRITE_SNAPSHOTS=1</c> to (re)write the
/// snapshot beside the test source instead; the test then fails so a rewritten snapshot is always looked at.
/// </summary>
internal static class ShapeSnapshot
{
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
