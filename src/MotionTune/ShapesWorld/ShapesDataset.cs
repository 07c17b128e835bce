using System.Globalization;
using MotionTune.IO;
using MotionTune.Video;
using static TorchSharp.torch;

namespace MotionTune.ShapesWorld;

/// <summary>Which combinations a dataset draws from.</summary>
public enum DatasetSplit
{
    /// <summary>Appearance combinations seen in training.</summary>
    Train,
    /// <summary>The held-out (shape, colour, background) triples, never in training: for measuring generalisation.</summary>
    HeldOut,
}

/// <summary>One clip of the base-model dataset.</summary>
/// <param name="Index">Its index in its split.</param>
/// <param name="Clip">What to render.</param>
/// <param name="Motion">The library motion (its class).</param>
/// <param name="Caption">The caption, naming the motion.</param>
public sealed record DatasetItem(int Index, ClipSpec Clip, LibraryMotion Motion, string Caption);

/// <summary>
/// The base-model dataset: random (shape, colour, background, library motion) clips with captions that name all four.
/// Item i of a split is a pure function of (seed, split, i), so a dataset of any size needs no storage.
/// <para>
/// Held out: the triples with (shape + 2 colour + 3 background) mod 10 = 0, counting by palette index (20 of the 200).
/// At most one of a (shape, colour) pair's five backgrounds is held out, at most one of a (colour, background) pair's
/// five shapes, and at most two of a (shape, background) pair's eight colours, so every attribute and every pair of
/// attributes is still seen in training; only the triple is new.
/// </para>
/// </summary>
/// <param name="Seed">Base seed.</param>
/// <param name="Frames">Frames per clip.</param>
/// <param name="ScaleJitter">Each clip's object size is multiplied by a factor drawn from 1 ± this.</param>
public sealed record ShapesDataset(int Seed = 0, int Frames = 16, double ScaleJitter = 0.1)
{
    /// <summary>Whether an appearance is one of the held-out triples.</summary>
    public static bool IsHeldOut(Appearance appearance) =>
        (Shapes.IndexOf(appearance.Shape) + 2 * Palette.ColourIndex(appearance.Colour) + 3 * Palette.BackgroundIndex(appearance.Background)) % 10 == 0;

    /// <summary>All appearances of a split.</summary>
    public static IReadOnlyList<Appearance> Appearances(DatasetSplit split) =>
        (from shape in Shapes.All
         from colour in Palette.Colours
         from background in Palette.Backgrounds
         let appearance = new Appearance(shape.Name, colour.Name, background.Name)
         where IsHeldOut(appearance) == (split == DatasetSplit.HeldOut)
         select appearance).ToArray();

    /// <summary>Item <paramref name="index"/> of <paramref name="split"/>: uniform over the split's appearances and the library motions.</summary>
    public DatasetItem Item(int index, DatasetSplit split = DatasetSplit.Train)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "must not be negative.");
        var random = new Random(Seeds.Mix(Seed, (int)split, index));
        var appearances = Appearances(split);
        var appearance = appearances[random.Next(appearances.Count)];
        var motion = MotionLibrary.All[random.Next(MotionLibrary.All.Count)];
        double size = 1 + ScaleJitter * (2 * random.NextDouble() - 1);
        var trajectory = motion.Sample(Frames, random);
        trajectory = new Trajectory(trajectory.Poses.Select(p => p with { Scale = p.Scale * size }).ToArray());
        return new DatasetItem(index, new ClipSpec(appearance, trajectory), motion, Captions.Describe(appearance, motion));
    }

    /// <summary>Items <paramref name="start"/> .. start + count − 1 of a split.</summary>
    public IReadOnlyList<DatasetItem> Items(int start, int count, DatasetSplit split = DatasetSplit.Train) =>
        Enumerable.Range(start, count).Select(i => Item(i, split)).ToArray();

    /// <summary>Renders items as (N, F, H, W, 3) <c>uint8</c> frames, with their captions.</summary>
    public (Tensor Frames, string[] Captions) Render(IReadOnlyList<DatasetItem> items, RenderSettings settings, Device? device = null) =>
        (Renderer.Render(items.Select(i => i.Clip).ToArray(), settings, device), items.Select(i => i.Caption).ToArray());

    /// <summary>
    /// Writes <paramref name="count"/> items of a split to <paramref name="folder"/> (all or nothing):
    /// <c>frames/&lt;split&gt;-&lt;index&gt;/00000.png ...</c> (split <c>train</c> or <c>held-out</c>) and
    /// <c>captions.csv</c> (video, caption, shape, colour, background, motion, split).
    /// </summary>
    public void Write(string folder, int count, RenderSettings settings, DatasetSplit split = DatasetSplit.Train, bool overwrite = false)
    {
        StagedFolder.Write(folder, overwrite, staging =>
        {
            var rows = new List<string[]>();
            var splitName = split == DatasetSplit.Train ? "train" : "held-out";
            const int batch = 64;
            for (int start = 0; start < count; start += batch)
            {
                var items = Items(start, Math.Min(batch, count - start), split);
                var (frames, captions) = Render(items, settings);
                using (frames)
                {
                    for (int i = 0; i < items.Count; i++)
                    {
                        var item = items[i];
                        var name = string.Create(CultureInfo.InvariantCulture, $"{splitName}-{item.Index:D6}");
                        using var clip = frames[i];
                        VideoFile.WriteFrames(Path.Combine(staging, "frames", name), clip, prefix: "");
                        var a = item.Clip.Appearance;
                        rows.Add([name, captions[i], a.Shape, a.Colour, a.Background, item.Motion.Name, splitName]);
                    }
                }
            }
            Csv.WriteFile(Path.Combine(staging, "captions.csv"), ["video", "caption", "shape", "colour", "background", "motion", "split"], rows);
        });
    }
}
