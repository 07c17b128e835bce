namespace MotionTune.ShapesWorld;

/// <summary>An object colour: a name used in captions and its sRGB value.</summary>
/// <param name="Name">The caption word (<c>red</c>).</param>
/// <param name="R">Red, 0..255.</param>
/// <param name="G">Green, 0..255.</param>
/// <param name="B">Blue, 0..255.</param>
public sealed record ObjectColour(string Name, byte R, byte G, byte B);

/// <summary>How a background is drawn.</summary>
public enum BackgroundPattern
{
    /// <summary>One colour.</summary>
    Solid,
    /// <summary>Vertical stripes of two colours, four pairs across the frame.</summary>
    Stripes,
    /// <summary>A 4 x 4 checkerboard of two colours.</summary>
    Checker,
}

/// <summary>A background: a caption word, a pattern and its (grey) levels.</summary>
/// <param name="Name">The caption word (<c>white</c> in "on a white background").</param>
/// <param name="Pattern">How it is drawn.</param>
/// <param name="Level">The grey level 0..255 of a solid background, and the first colour of a pattern.</param>
/// <param name="SecondLevel">The second grey level of a pattern (ignored for solid backgrounds).</param>
public sealed record Background(string Name, BackgroundPattern Pattern, byte Level, byte SecondLevel = 0);

/// <summary>
/// The named palettes of ShapesWorld. Object colours are saturated and of distinct hues; backgrounds are achromatic
/// (grey levels, solid or textured). That split is what makes the metrics exact: a pixel's chroma says how much of it is
/// object, on any background texture, and its hue names the object colour even where the object's edge is blended with
/// the background (blending with a grey scales the chroma vector but keeps its direction).
/// </summary>
public static class Palette
{
    /// <summary>Object colours; neighbouring hues are 26 degrees (red, orange) to 70 degrees apart.</summary>
    public static readonly IReadOnlyList<ObjectColour> Colours =
    [
        new("red", 225, 35, 35),
        new("orange", 250, 120, 15),
        new("yellow", 235, 225, 25),
        new("green", 30, 180, 50),
        new("cyan", 20, 195, 215),
        new("blue", 40, 80, 230),
        new("purple", 150, 50, 220),
        new("pink", 240, 60, 170),
    ];

    /// <summary>Backgrounds: three solid grey levels and two textures.</summary>
    public static readonly IReadOnlyList<Background> Backgrounds =
    [
        new("white", BackgroundPattern.Solid, 245),
        new("gray", BackgroundPattern.Solid, 128),
        new("black", BackgroundPattern.Solid, 25),
        new("striped", BackgroundPattern.Stripes, 245, 128),
        new("checkered", BackgroundPattern.Checker, 128, 25),
    ];

    /// <summary>The colour named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Not a palette colour.</exception>
    public static ObjectColour Colour(string name) =>
        Colours.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"Unknown ShapesWorld colour '{name}' (known: {string.Join(", ", Colours.Select(c => c.Name))}).");

    /// <summary>The background named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Not a palette background.</exception>
    public static Background Background(string name) =>
        Backgrounds.FirstOrDefault(b => b.Name == name)
        ?? throw new ArgumentException($"Unknown ShapesWorld background '{name}' (known: {string.Join(", ", Backgrounds.Select(b => b.Name))}).");

    /// <summary>Index of a colour in <see cref="Colours"/>.</summary>
    public static int ColourIndex(string name) => IndexOf(Colours.Select(c => c.Name), name, "colour");

    /// <summary>Index of a background in <see cref="Backgrounds"/>.</summary>
    public static int BackgroundIndex(string name) => IndexOf(Backgrounds.Select(b => b.Name), name, "background");

    internal static int IndexOf(IEnumerable<string> names, string name, string what)
    {
        int i = 0;
        foreach (var n in names)
        {
            if (n == name) return i;
            i++;
        }
        throw new ArgumentException($"Unknown ShapesWorld {what} '{name}' (known: {string.Join(", ", names)}).");
    }
}
