using MotionTune.Evaluation;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld.Metrics;

/// <summary>
/// ShapesWorld metrics for the evaluation runner: each generated sample of a task (a TGVE video of a task set) scored
/// against the task's reference appearance and the reference clip's motion (<see cref="EditScorer"/>), plus the motion
/// diversity of one prompt's samples over seeds (<see cref="MotionMetrics.Diversity"/>). Metric names (the records'
/// extra metrics): <c>alignment_colour</c>, <c>alignment_shape</c>, <c>alignment_background</c>, <c>alignment_all</c>
/// (shares of frames showing the prompt's value), <c>leakage</c> (share showing the reference's value where the prompt
/// changed it), <c>displacement_cosine</c>, <c>trajectory_distance</c> (motion fidelity to the reference path),
/// <c>shapes_flow_similarity</c> (the paper's flow similarity on ShapesWorld's grid) and <c>motion_diversity</c>.
/// </summary>
public sealed class ShapesTaskScorer
{
    private readonly Dictionary<string, ShapesTask> _tasks;

    /// <summary>The task set folder.</summary>
    public string Folder { get; }

    private ShapesTaskScorer(string folder, IReadOnlyList<ShapesTask> tasks)
    {
        Folder = folder;
        _tasks = tasks.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Reads the tasks of a task set folder (<c>motiontune shapes tasks</c>).</summary>
    /// <exception cref="FileNotFoundException">No tasks.csv in the folder.</exception>
    /// <exception cref="TgveDatasetException">A malformed task CSV or a missing reference clip.</exception>
    public static ShapesTaskScorer Load(string folder)
    {
        if (!File.Exists(Path.Combine(folder, TaskSet.CsvName)))
            throw new FileNotFoundException($"--tasks {folder}: not a ShapesWorld task set (no {TaskSet.CsvName}); write one with 'motiontune shapes tasks'.");
        return new ShapesTaskScorer(Path.GetFullPath(folder), TaskSet.Read(folder));
    }

    /// <summary>A scorer for tasks held in memory (<see cref="TaskSet.Create"/>), e.g. a sweep that writes no files.</summary>
    public static ShapesTaskScorer FromTasks(IReadOnlyList<ShapesTask> tasks) => new("(in memory)", tasks);

    /// <summary>The task of a video.</summary>
    /// <exception cref="ArgumentException">No task of that name.</exception>
    public ShapesTask Task(string video) => _tasks.TryGetValue(video, out var task)
        ? task
        : throw new ArgumentException($"--tasks {Folder}: no task '{video}' (the dataset's videos must be the task set's).");

    /// <summary>
    /// The metrics of <paramref name="generated"/> (F, H, W, 3) frames, made for <paramref name="prompt"/>, against
    /// <paramref name="video"/>'s reference appearance and <paramref name="referenceFrames"/> (the same shape); the
    /// optical-flow similarity (OpenCV) only when <paramref name="flow"/>.
    /// </summary>
    /// <exception cref="FormatException">The prompt is not a ShapesWorld caption.</exception>
    public IReadOnlyDictionary<string, double> Score(string video, string prompt, Tensor generated, Tensor referenceFrames, bool flow = true)
    {
        var task = Task(video);
        var referencePath = FrameReader.Read(referenceFrames).Path;
        var score = EditScorer.Score(generated, prompt, task.Reference, referencePath, flow ? referenceFrames : null);
        var metrics = new Dictionary<string, double>
        {
            ["alignment_colour"] = score.Alignment.Colour,
            ["alignment_shape"] = score.Alignment.Shape,
            ["alignment_background"] = score.Alignment.Background,
            ["alignment_all"] = score.Alignment.All,
            ["leakage"] = score.Leakage.Mean,
            ["displacement_cosine"] = score.Fidelity.DisplacementCosine,
            ["trajectory_distance"] = score.Fidelity.TrajectoryDistance,
        };
        if (score.FlowSimilarity is double similarity) metrics["shapes_flow_similarity"] = similarity;
        return metrics.Where(m => double.IsFinite(m.Value)).ToDictionary(m => m.Key, m => m.Value);
    }

    /// <summary>Motion diversity of one prompt's samples (two or more): the mean trajectory distance over all pairs.</summary>
    public static double Diversity(IReadOnlyList<Tensor> samples) =>
        MotionMetrics.Diversity(samples.Select(s => FrameReader.Read(s).Path).ToArray());
}
