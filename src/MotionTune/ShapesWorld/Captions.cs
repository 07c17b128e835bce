using System.Text.RegularExpressions;

namespace MotionTune.ShapesWorld;

/// <summary>What a clip looks like: palette names of its shape, colour and background.</summary>
/// <param name="Shape">A <see cref="Shapes"/> name.</param>
/// <param name="Colour">A <see cref="Palette.Colours"/> name.</param>
/// <param name="Background">A <see cref="Palette.Backgrounds"/> name.</param>
public sealed record Appearance(string Shape, string Colour, string Background)
{
    /// <summary>Checks that every name is in the palettes.</summary>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public Appearance Validate()
    {
        Shapes.IndexOf(Shape);
        Palette.ColourIndex(Colour);
        Palette.BackgroundIndex(Background);
        return this;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Colour} {Shape} on {Background}";
}

/// <summary>A caption's content: the appearance, and the library motion when the caption names one.</summary>
/// <param name="Appearance">Shape, colour and background.</param>
/// <param name="Motion">The library motion's name, or null when the caption names no motion.</param>
public sealed record CaptionContent(Appearance Appearance, string? Motion);

/// <summary>
/// The caption template, "a red circle moving left on a white background": article, colour, shape, the library
/// motion's phrase (training captions only; customization captions leave the motion out, since it is what the
/// model must learn from the reference video), "on a", background, "background".
/// </summary>
public static partial class Captions
{
    /// <summary>Every word a ShapesWorld caption can contain, in a fixed order (for word-level tokenizers).</summary>
    public static IReadOnlyList<string> Vocabulary { get; } =
        new[] { "a", "an", "on", "background" }
            .Concat(Palette.Colours.Select(c => c.Name))
            .Concat(Shapes.All.Select(s => s.Name))
            .Concat(Palette.Backgrounds.Select(b => b.Name))
            .Concat(MotionLibrary.All.SelectMany(m => m.Phrase.Split(' ')))
            .Distinct()
            .ToArray();

    /// <summary>The caption of an appearance, with the motion's phrase when <paramref name="motion"/> is given.</summary>
    public static string Describe(Appearance appearance, LibraryMotion? motion = null)
    {
        appearance.Validate();
        var middle = motion is null ? "" : " " + motion.Phrase;
        return $"{Article(appearance.Colour)} {appearance.Colour} {appearance.Shape}{middle} on {Article(appearance.Background)} {appearance.Background} background";
    }

    /// <summary>Parses a ShapesWorld caption (case, extra spaces and a final full stop are ignored).</summary>
    /// <exception cref="FormatException">Not of the template's form, or a word not in the palettes; the message quotes the caption.</exception>
    public static CaptionContent Parse(string caption)
    {
        var text = Regex.Replace(caption.Trim().TrimEnd('.').ToLowerInvariant(), @"\s+", " ");
        var match = Template().Match(text);
        if (!match.Success)
            throw new FormatException($"'{caption}' is not a ShapesWorld caption (expected like \"a red circle moving left on a white background\").");
        string colour = match.Groups["colour"].Value, shape = match.Groups["shape"].Value, background = match.Groups["background"].Value;
        if (!Palette.Colours.Any(c => c.Name == colour)) throw Unknown(caption, "colour", colour, Palette.Colours.Select(c => c.Name));
        if (!Shapes.All.Any(s => s.Name == shape)) throw Unknown(caption, "shape", shape, Shapes.All.Select(s => s.Name));
        if (!Palette.Backgrounds.Any(b => b.Name == background)) throw Unknown(caption, "background", background, Palette.Backgrounds.Select(b => b.Name));
        string? motion = null;
        if (match.Groups["motion"].Success)
        {
            var phrase = match.Groups["motion"].Value;
            motion = MotionLibrary.FromPhrase(phrase)?.Name ?? throw Unknown(caption, "motion", phrase, MotionLibrary.All.Select(m => m.Phrase));
        }
        return new CaptionContent(new Appearance(shape, colour, background), motion);
    }

    /// <summary>Parses a caption, or returns null when it is not a ShapesWorld caption.</summary>
    public static CaptionContent? TryParse(string caption)
    {
        try { return Parse(caption); }
        catch (FormatException) { return null; }
    }

    private static string Article(string word) => "aeiou".Contains(word[0]) ? "an" : "a";

    private static FormatException Unknown(string caption, string what, string word, IEnumerable<string> known) =>
        new($"'{caption}': unknown {what} '{word}' (known: {string.Join(", ", known)}).");

    [GeneratedRegex(@"^an? (?<colour>[a-z]+) (?<shape>[a-z]+)(?: (?<motion>.+?))? on an? (?<background>[a-z]+) background$")]
    private static partial Regex Template();
}
