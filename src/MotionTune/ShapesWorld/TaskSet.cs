using System.Text.Json;
using MotionTune.Evaluation;
using MotionTune.IO;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// One customization task in the TGVE shape: a reference clip of a custom motion, its caption (object and background,
/// not the motion), and four edit prompts (<see cref="EditKinds"/>) that change the colour (style), the shape (object),
/// the background, or all three (multiple) while the motion should stay the reference's.
/// </summary>
/// <param name="Name">The task's name (the video name in the CSV; the motion's name).</param>
/// <param name="Motion">The reference motion.</param>
/// <param name="Reference">The reference clip's appearance.</param>
/// <param name="Style">The style edit: another colour.</param>
/// <param name="Object">The object edit: another shape.</param>
/// <param name="Background">The background edit: another background.</param>
/// <param name="Multiple">All three changed.</param>
public sealed record ShapesTask(string Name, CustomMotion Motion, Appearance Reference, Appearance Style, Appearance Object, Appearance Background, Appearance Multiple)
{
    /// <summary>The reference caption, e.g. "a red circle on a white background".</summary>
    public string Caption => Captions.Describe(Reference);

    /// <summary>The appearance the edit prompt of <paramref name="kind"/> (an <see cref="EditKinds"/> name) asks for.</summary>
    /// <exception cref="ArgumentException">Not an edit kind.</exception>
    public Appearance Edit(string kind) => kind switch
    {
        EditKinds.Style => Style,
        EditKinds.Object => Object,
        EditKinds.Background => Background,
        EditKinds.Multiple => Multiple,
        _ => throw new ArgumentException($"'{kind}' is not an edit kind ({string.Join(", ", EditKinds.All)}).", nameof(kind)),
    };

    /// <summary>The edit prompt of <paramref name="kind"/> (an <see cref="EditKinds"/> name).</summary>
    public string Prompt(string kind) => Captions.Describe(Edit(kind));

    /// <summary>The four edit prompts by kind, in the TGVE column order.</summary>
    public IReadOnlyDictionary<string, string> Prompts => EditKinds.All.ToDictionary(k => k, Prompt);

    /// <summary>The reference clip with <paramref name="frames"/> frames.</summary>
    public ClipSpec ReferenceClip(int frames = 16) => new(Reference, Motion.Sample(frames, new Random(0)));
}

/// <summary>
/// Builds, writes and reads sets of <see cref="ShapesTask"/>. On disk a task set is a TGVE-format dataset
/// (<see cref="TgveDataset"/> reads it): <c>tasks.csv</c> with the LOVEU-TGVE-2023 columns and
/// <c>frames/&lt;task&gt;/00000.png ...</c>, the reference clips; plus <c>motions/&lt;task&gt;.json</c>, the custom
/// motions, and <c>settings.json</c> (frame size and count, object size).
/// </summary>
public static class TaskSet
{
    /// <summary>The CSV's file name in a task set folder.</summary>
    public const string CsvName = "tasks.csv";

    /// <summary>The reference clips' folder in a task set folder (the TGVE video folder).</summary>
    public const string FramesFolder = "frames";

    /// <summary>
    /// One task per motion, named after it. Per task (seeded by <paramref name="seed"/> and the motion's name, so adding
    /// a motion file leaves the other tasks as they were) a random reference appearance, and edits that each change one
    /// attribute to a random other value; the multiple edit changes all three.
    /// </summary>
    public static IReadOnlyList<ShapesTask> Create(IReadOnlyList<CustomMotion> motions, int seed = 0)
    {
        if (motions.Count == 0) throw new ArgumentException("No motions to make tasks of.", nameof(motions));
        var duplicate = motions.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Two motions are named '{duplicate.Key}'; task names must be unique.", nameof(motions));
        var shapes = Shapes.All.Select(s => s.Name).ToArray();
        var colours = Palette.Colours.Select(c => c.Name).ToArray();
        var backgrounds = Palette.Backgrounds.Select(b => b.Name).ToArray();
        var tasks = new List<ShapesTask>();
        foreach (var motion in motions)
        {
            var random = new Random(Seeds.Mix(seed, Seeds.Of(motion.Name)));
            string Pick(string[] names) => names[random.Next(names.Length)];
            string Other(string[] names, string not) { var rest = names.Where(n => n != not).ToArray(); return rest[random.Next(rest.Length)]; }
            var reference = new Appearance(Pick(shapes), Pick(colours), Pick(backgrounds));
            tasks.Add(new ShapesTask(
                motion.Name, motion, reference,
                Style: reference with { Colour = Other(colours, reference.Colour) },
                Object: reference with { Shape = Other(shapes, reference.Shape) },
                Background: reference with { Background = Other(backgrounds, reference.Background) },
                Multiple: new Appearance(Other(shapes, reference.Shape), Other(colours, reference.Colour), Other(backgrounds, reference.Background))));
        }
        return tasks;
    }

    /// <summary>Writes the task set folder (all or nothing; see <see cref="TaskSet"/>), rendering each reference clip.</summary>
    /// <exception cref="IOException">The folder exists and is not empty, and <paramref name="overwrite"/> is false.</exception>
    public static void Write(string folder, IReadOnlyList<ShapesTask> tasks, RenderSettings settings, int frames = 16, bool overwrite = false)
    {
        StagedFolder.Write(folder, overwrite, staging =>
        {
            var header = new[] { TgveDataset.VideoColumn, TgveDataset.CaptionColumn }.Concat(EditKinds.All.Select(k => EditKinds.Columns[k]));
            Csv.WriteFile(Path.Combine(staging, CsvName), header,
                tasks.Select(t => new[] { t.Name, t.Caption }.Concat(EditKinds.All.Select(t.Prompt))));
            foreach (var task in tasks)
            {
                using var clip = Renderer.Render(task.ReferenceClip(frames), settings);
                VideoFile.WriteFrames(Path.Combine(staging, FramesFolder, task.Name), clip, prefix: "");
                AtomicFile.WriteAllText(Path.Combine(staging, "motions", task.Name + ".json"), task.Motion.ToJson());
            }
            var info = new Dictionary<string, object>
            {
                ["height"] = settings.Height,
                ["width"] = settings.Width,
                ["frames"] = frames,
                ["object_size"] = settings.ObjectSize,
            };
            AtomicFile.WriteAllText(Path.Combine(staging, "settings.json"), JsonSerializer.Serialize(info, new JsonSerializerOptions { WriteIndented = true }));
        });
    }

    /// <summary>
    /// Reads a task set folder's tasks: the CSV through <see cref="TgveDataset"/> (which also checks that every
    /// reference clip is there), captions parsed back into appearances, motions from <c>motions/</c>.
    /// </summary>
    /// <exception cref="TgveDatasetException">A malformed CSV row or a missing reference clip.</exception>
    /// <exception cref="FormatException">A caption that is not a ShapesWorld caption (or names a motion), or a malformed motion file.</exception>
    public static IReadOnlyList<ShapesTask> Read(string folder)
    {
        var csv = Path.Combine(folder, CsvName);
        var dataset = TgveDataset.Load(csv, Path.Combine(folder, FramesFolder));
        var tasks = new List<ShapesTask>();
        foreach (var entry in dataset.Entries)
        {
            Appearance Parse(string caption) => Captions.Parse(caption) switch
            {
                { Motion: null } content => content.Appearance,
                { Motion: var m } => throw new FormatException($"{csv}:{entry.LineNumber}: '{caption}' names the motion '{m}'; task captions describe only the object and background."),
            };
            var motion = CustomMotion.Load(Path.Combine(folder, "motions", entry.Video + ".json"));
            tasks.Add(new ShapesTask(entry.Video, motion, Parse(entry.Caption),
                Parse(entry.Prompts[EditKinds.Style]), Parse(entry.Prompts[EditKinds.Object]),
                Parse(entry.Prompts[EditKinds.Background]), Parse(entry.Prompts[EditKinds.Multiple])));
        }
        return tasks;
    }

    /// <summary>A task's reference frames from a task set folder, (F, H, W, 3) <c>uint8</c>.</summary>
    public static Tensor ReadFrames(string folder, string taskName)
    {
        using var clip = VideoFile.Read(Path.Combine(folder, FramesFolder, taskName));
        return clip.DetachFrames();
    }
}
