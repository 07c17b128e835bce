using System.Text.Json;
using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>
/// One customization task in the TGVE shape: a reference clip of a custom motion, its caption (object and background,
/// not the motion), and four edit prompts that change the colour (style), the shape (object), the background, or all
/// three (multiple) while the motion should stay the reference's.
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

    /// <summary>The appearance an edit prompt asks for.</summary>
    public Appearance Edit(EditKind kind) => kind switch
    {
        EditKind.Style => Style,
        EditKind.Object => Object,
        EditKind.Background => Background,
        EditKind.Multiple => Multiple,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The edit prompt of one kind.</summary>
    public string Prompt(EditKind kind) => Captions.Describe(Edit(kind));

    /// <summary>The reference clip with <paramref name="frames"/> frames.</summary>
    public ClipSpec ReferenceClip(int frames = 16) => new(Reference, Motion.Sample(frames, new Random(0)));

    /// <summary>The task as a TGVE CSV row.</summary>
    public TgveRow ToTgveRow() => new(Name, Caption, Prompt(EditKind.Style), Prompt(EditKind.Object), Prompt(EditKind.Background), Prompt(EditKind.Multiple));
}

/// <summary>
/// Builds, writes and reads sets of <see cref="ShapesTask"/>. On disk a task set is a folder:
/// <c>tasks.csv</c> (LOVEU-TGVE-2023 columns), <c>frames/&lt;task&gt;/00000.png ...</c> (the reference clips),
/// <c>motions/&lt;task&gt;.json</c> (the custom motions) and <c>settings.json</c> (frame size and count).
/// </summary>
public static class TaskSet
{
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
        for (int i = 0; i < motions.Count; i++)
        {
            var random = new Random(Seeds.Mix(seed, Seeds.Of(motions[i].Name)));
            string Pick(string[] names) => names[random.Next(names.Length)];
            string Other(string[] names, string not) { var rest = names.Where(n => n != not).ToArray(); return rest[random.Next(rest.Length)]; }
            var reference = new Appearance(Pick(shapes), Pick(colours), Pick(backgrounds));
            tasks.Add(new ShapesTask(
                motions[i].Name, motions[i], reference,
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
            TgveCsv.Write(Path.Combine(staging, "tasks.csv"), tasks.Select(t => t.ToTgveRow()));
            foreach (var task in tasks)
            {
                using var clip = Renderer.Render(task.ReferenceClip(frames), settings);
                FrameFiles.WritePngFolder(clip, Path.Combine(staging, "frames", task.Name));
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

    /// <summary>Reads a task set folder's tasks (captions parsed back into appearances, motions from <c>motions/</c>).</summary>
    /// <exception cref="FormatException">A caption that is not a ShapesWorld caption (or names a motion), or a malformed motion file.</exception>
    public static IReadOnlyList<ShapesTask> Read(string folder)
    {
        var csv = Path.Combine(folder, "tasks.csv");
        var tasks = new List<ShapesTask>();
        foreach (var row in TgveCsv.Read(csv))
        {
            Appearance Parse(string caption) => Captions.Parse(caption) switch
            {
                { Motion: null } content => content.Appearance,
                { Motion: var m } => throw new FormatException($"{csv}: '{caption}' names the motion '{m}'; task captions describe only the object and background."),
            };
            var motion = CustomMotion.Load(Path.Combine(folder, "motions", row.VideoName + ".json"));
            tasks.Add(new ShapesTask(row.VideoName, motion, Parse(row.Caption),
                Parse(row.StyleChange), Parse(row.ObjectChange), Parse(row.BackgroundChange), Parse(row.MultipleChanges)));
        }
        return tasks;
    }

    /// <summary>A task's reference frames from a task set folder, (F, H, W, 3) <c>uint8</c>.</summary>
    public static Tensor ReadFrames(string folder, string taskName) => FrameFiles.ReadPngFolder(Path.Combine(folder, "frames", taskName));
}
