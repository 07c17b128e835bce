using System.CommandLine;
using MotionTune.Cli.Commands;
using MotionTune.ShapesWorld;

namespace MotionTune.Tests.ShapesWorld;

/// <summary>The <c>motiontune shapes</c> commands, driven through the command line parser.</summary>
public sealed class ShapesCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-shapes-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Run(params string[] args)
    {
        var root = new RootCommand { GlobalOptions.LibTorch };
        root.Subcommands.Add(ShapesCommand.Create());
        return root.Parse(args).Invoke();
    }

    [Fact]
    public void TasksAreWrittenAndTheirReferencesScorePerfectly()
    {
        var tasks = Path.Combine(_dir, "tasks");
        Assert.Equal(0, Run("shapes", "tasks", "--out", tasks, "--size", "24", "--frames", "8"));
        var written = TaskSet.Read(tasks);
        Assert.Equal(CustomMotions.BuiltIn().Count, written.Count);
        var name = written[0].Name;
        Assert.Equal(8, Directory.GetFiles(Path.Combine(tasks, "frames", name), "*.png").Length);
        Assert.Equal(0, Run("shapes", "read", Path.Combine(tasks, "frames", name)));
        Assert.Equal(0, Run("shapes", "score", Path.Combine(tasks, "frames", name), "--tasks", tasks, "--task", name, "--edit", "style"));
        Assert.NotEqual(0, Run("shapes", "score", Path.Combine(tasks, "frames", name), "--tasks", tasks, "--task", "no-such-task", "--edit", "style"));
    }

    [Fact]
    public void DatasetsAreWritten()
    {
        var data = Path.Combine(_dir, "data");
        Assert.Equal(0, Run("shapes", "dataset", "--out", data, "--count", "2", "--split", "held-out", "--size", "16", "--frames", "4"));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(data, "captions.csv")).Length);
        Assert.NotEqual(0, Run("shapes", "dataset", "--out", Path.Combine(_dir, "bad"), "--split", "validation"));
    }

    [Fact]
    public void BenchRuns() => Assert.Equal(0, Run("shapes", "bench", "--size", "16", "--clips", "2", "--frames", "4"));
}
