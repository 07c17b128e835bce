using MotionTune.Evaluation;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using MotionTune.ShapesWorld.Metrics;
using static TorchSharp.torch;

namespace MotionTune.Tests.ShapesWorld;

public sealed class TaskSetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-shapes-").FullName;

    static TaskSetTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Everything a task is, as text (motions are compared by their file form).</summary>
    private static string Describe(ShapesTask t) =>
        $"{t.Name}|{t.Reference}|{t.Style}|{t.Object}|{t.Background}|{t.Multiple}|{t.Motion.ToJson()}";

    [Fact]
    public void TasksChangeExactlyWhatTheirKindSays()
    {
        var tasks = TaskSet.Create(CustomMotions.BuiltIn(), seed: 1);
        Assert.True(tasks.Count >= 8);
        foreach (var task in tasks)
        {
            var r = task.Reference;
            Assert.DoesNotContain(task.Motion.Name, task.Caption);
            Assert.Equal(Captions.Describe(r), task.Caption);
            Assert.True(task.Style.Colour != r.Colour && task.Style.Shape == r.Shape && task.Style.Background == r.Background);
            Assert.True(task.Object.Shape != r.Shape && task.Object.Colour == r.Colour && task.Object.Background == r.Background);
            Assert.True(task.Background.Background != r.Background && task.Background.Shape == r.Shape && task.Background.Colour == r.Colour);
            Assert.True(task.Multiple.Shape != r.Shape && task.Multiple.Colour != r.Colour && task.Multiple.Background != r.Background);
        }
        Assert.Equal(tasks.Select(Describe), TaskSet.Create(CustomMotions.BuiltIn(), seed: 1).Select(Describe));
        Assert.NotEqual(tasks.Select(t => t.Caption), TaskSet.Create(CustomMotions.BuiltIn(), seed: 2).Select(t => t.Caption));
        // A task depends on its motion's name, not on which other motions there are.
        Assert.Equal(Describe(tasks[^1]), Describe(TaskSet.Create([tasks[^1].Motion], seed: 1)[0]));
    }

    [Fact]
    public void ATaskSetFolderIsATgveDataset()
    {
        var tasks = TaskSet.Create(CustomMotions.BuiltIn(), seed: 3);
        var folder = Path.Combine(_dir, "tgve");
        TaskSet.Write(folder, tasks, new RenderSettings { Height = 16, Width = 16 }, frames: 4);
        var csv = Path.Combine(folder, TaskSet.CsvName);
        Assert.StartsWith("Video name,Our GT caption,Style Change Caption,Object Change Caption,Background Change Caption,Multiple Changes Caption\n", File.ReadAllText(csv));
        var dataset = TgveDataset.Load(csv, Path.Combine(folder, TaskSet.FramesFolder));
        Assert.Equal(tasks.Select(t => t.Name), dataset.Entries.Select(e => e.Video));
        foreach (var (task, entry) in tasks.Zip(dataset.Entries))
        {
            Assert.Equal(task.Caption, entry.Caption);
            Assert.Equal(task.Prompts, entry.Prompts);
            Assert.Equal(Path.Combine(Path.GetFullPath(folder), TaskSet.FramesFolder, task.Name), entry.VideoPath);
        }
        Assert.Throws<ArgumentException>(() => tasks[0].Prompt("colour"));
    }

    [Fact]
    public void ATaskSetFolderRoundTrips()
    {
        var tasks = TaskSet.Create(CustomMotions.BuiltIn().Take(3).ToArray(), seed: 4);
        var folder = Path.Combine(_dir, "tasks");
        var settings = new RenderSettings { Height = 24, Width = 24 };
        TaskSet.Write(folder, tasks, settings, frames: 16);
        Assert.Equal(tasks.Select(Describe), TaskSet.Read(folder).Select(Describe));
        foreach (var task in tasks)
        {
            using var read = TaskSet.ReadFrames(folder, task.Name);
            using var rendered = Renderer.Render(task.ReferenceClip(16), settings);
            Assert.True(read.SameAs(rendered), task.Name);
            var reading = FrameReader.Read(read);
            Assert.All(reading.Frames, f => Assert.Equal((task.Reference.Shape, task.Reference.Colour, task.Reference.Background), (f.Shape, f.Colour, f.Background)));
        }
        // A second write into the same folder needs consent, and leaves no staging folders behind either way.
        Assert.Throws<IOException>(() => TaskSet.Write(folder, tasks, settings));
        TaskSet.Write(folder, tasks.Take(1).ToArray(), settings, overwrite: true);
        Assert.Single(TaskSet.Read(folder));
        Assert.Equal(3, tasks.Count);
        Assert.Equal(["tasks"], Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName));
    }
}
