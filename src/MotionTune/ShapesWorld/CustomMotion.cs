using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MotionTune.ShapesWorld;

/// <summary>One keyframe of a custom motion.</summary>
/// <param name="T">Time in [0, 1] (0 = first frame, 1 = last frame).</param>
/// <param name="Pose">Where the object is then.</param>
/// <param name="Easing">How the motion proceeds from this keyframe to the next (as CSS keyframes do).</param>
public sealed record Keyframe(double T, Pose Pose, Easing Easing);

/// <summary>
/// A motion outside the training library, read from a JSON file, so that a new customization task needs no code.
/// <para>File format (comments and trailing commas allowed):</para>
/// <code>
/// {
///   "name": "figure-eight",            // required: lower-case letters, digits and dashes
///   "description": "...",              // optional
///   "path": "smooth",                  // optional: "linear" (default; straight segments) or "smooth" (Catmull-Rom
///                                      //   through the points; a path ending where it starts is closed smoothly)
///   "keyframes": [                     // required: at least two
///     { "t": 0, "x": 0.5, "y": 0.5, "easing": "ease-in-out", "scale": 1, "rotation": 0 },
///     ...
///   ]
/// }
/// </code>
/// <para>
/// <c>x</c>, <c>y</c> (required) are the object's centre as fractions of the frame (y down), within [0, 1].
/// <c>t</c> is optional but then on every keyframe: 0 on the first, 1 on the last, increasing. Without it the
/// keyframes are waypoints, timed by distance along the polyline (constant speed). <c>easing</c> (linear, ease-in,
/// ease-out, ease-in-out; default linear) shapes the segment that starts at that keyframe. <c>scale</c> (&gt; 0,
/// default 1) and <c>rotation</c> (degrees clockwise, default 0) are interpolated with the same easing.
/// </para>
/// </summary>
public sealed partial class CustomMotion : Motion
{
    private static readonly string[] KeyframeFields = ["t", "x", "y", "easing", "scale", "rotation"];
    private static readonly string[] TopFields = ["name", "description", "path", "keyframes"];

    /// <summary>A motion from keyframes (validated as a file would be).</summary>
    public CustomMotion(string name, IReadOnlyList<Keyframe> keyframes, bool smooth = false, string description = "")
    {
        if (!NamePattern().IsMatch(name)) throw new ArgumentException($"Motion name '{name}' must be lower-case letters, digits and dashes.", nameof(name));
        if (keyframes.Count < 2) throw new ArgumentException($"Motion '{name}' needs at least two keyframes, got {keyframes.Count}.", nameof(keyframes));
        if (keyframes[0].T != 0 || keyframes[^1].T != 1) throw new ArgumentException($"Motion '{name}': keyframe times must run from 0 to 1.", nameof(keyframes));
        for (int i = 1; i < keyframes.Count; i++)
            if (!(keyframes[i].T > keyframes[i - 1].T)) throw new ArgumentException($"Motion '{name}': keyframe {i} time {keyframes[i].T} does not follow {keyframes[i - 1].T}.", nameof(keyframes));
        Name = name;
        Keyframes = keyframes;
        Smooth = smooth;
        Description = description;
    }

    /// <inheritdoc />
    public override string Name { get; }

    /// <summary>What the motion looks like, in words (not used in captions).</summary>
    public string Description { get; }

    /// <summary>The keyframes, times from 0 to 1.</summary>
    public IReadOnlyList<Keyframe> Keyframes { get; }

    /// <summary>Whether the path is a Catmull-Rom spline through the keyframes rather than straight segments.</summary>
    public bool Smooth { get; }

    /// <summary>The fixed trajectory; <paramref name="random"/> is not used.</summary>
    public override Trajectory Sample(int frames, Random random) => Trajectory.Sample(frames, PoseAt);

    /// <summary>The pose at time <paramref name="t"/> in [0, 1].</summary>
    public Pose PoseAt(double t)
    {
        t = Math.Clamp(t, 0, 1);
        int k = 0;
        while (k < Keyframes.Count - 2 && t > Keyframes[k + 1].T) k++;
        Keyframe a = Keyframes[k], b = Keyframes[k + 1];
        double e = a.Easing.Apply((t - a.T) / (b.T - a.T));
        (double x, double y) = Smooth ? CatmullRom(k, e) : (Lerp(a.Pose.X, b.Pose.X, e), Lerp(a.Pose.Y, b.Pose.Y, e));
        return new Pose(x, y, Lerp(a.Pose.Scale, b.Pose.Scale, e), Lerp(a.Pose.Rotation, b.Pose.Rotation, e));
    }

    private static double Lerp(double a, double b, double e) => a + (b - a) * e;

    /// <summary>Uniform Catmull-Rom between keyframes k and k + 1; the ends repeat, or wrap when the path is closed.</summary>
    private (double X, double Y) CatmullRom(int k, double e)
    {
        int n = Keyframes.Count;
        var first = Keyframes[0].Pose;
        var last = Keyframes[^1].Pose;
        bool closed = n > 2 && Math.Abs(first.X - last.X) < 1e-9 && Math.Abs(first.Y - last.Y) < 1e-9;
        Pose At(int i) => closed ? Keyframes[((i % (n - 1)) + (n - 1)) % (n - 1)].Pose : Keyframes[Math.Clamp(i, 0, n - 1)].Pose;
        Pose p0 = At(k - 1), p1 = At(k), p2 = At(k + 1), p3 = At(k + 2);
        double Spline(double v0, double v1, double v2, double v3) =>
            0.5 * (2 * v1 + (v2 - v0) * e + (2 * v0 - 5 * v1 + 4 * v2 - v3) * e * e + (3 * v1 - v0 - 3 * v2 + v3) * e * e * e);
        return (Spline(p0.X, p1.X, p2.X, p3.X), Spline(p0.Y, p1.Y, p2.Y, p3.Y));
    }

    /// <summary>The motion in the file format, every field written (times explicit), one keyframe per line.</summary>
    public string ToJson()
    {
        static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var easingNames = Easings.ByName.ToDictionary(p => p.Value, p => p.Key);
        var sb = new StringBuilder("{\n");
        sb.Append("  \"name\": ").Append(JsonSerializer.Serialize(Name)).Append(",\n");
        if (Description.Length > 0) sb.Append("  \"description\": ").Append(JsonSerializer.Serialize(Description)).Append(",\n");
        sb.Append("  \"path\": \"").Append(Smooth ? "smooth" : "linear").Append("\",\n");
        sb.Append("  \"keyframes\": [\n");
        for (int i = 0; i < Keyframes.Count; i++)
        {
            var k = Keyframes[i];
            sb.Append($"    {{ \"t\": {Number(k.T)}, \"x\": {Number(k.Pose.X)}, \"y\": {Number(k.Pose.Y)}, \"easing\": \"{easingNames[k.Easing]}\", ")
              .Append($"\"scale\": {Number(k.Pose.Scale)}, \"rotation\": {Number(k.Pose.Rotation)} }}")
              .Append(i < Keyframes.Count - 1 ? ",\n" : "\n");
        }
        return sb.Append("  ]\n}\n").ToString();
    }

    /// <summary>Reads a motion file.</summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="FormatException">The file is not valid JSON or not a valid motion; the message names the line and field.</exception>
    public static CustomMotion Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Motion file not found: {path}", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a motion from UTF-8 JSON; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="FormatException">Not valid JSON or not a valid motion; the message names the line and field.</exception>
    public static CustomMotion Parse(byte[] utf8, string sourceName = "<motion>")
    {
        using var json = JsonSource.Parse(sourceName, utf8);
        var root = json.Root;
        if (root.ValueKind != JsonValueKind.Object) throw json.Error("", "expected a JSON object with \"name\" and \"keyframes\".");
        RejectUnknown(json, root, "", TopFields);

        var name = RequiredString(json, root, "name");
        if (!NamePattern().IsMatch(name)) throw json.Error("name", $"'{name}' must be lower-case letters, digits and dashes (it names the task).");
        var description = root.TryGetProperty("description", out _) ? RequiredString(json, root, "description") : "";
        bool smooth = false;
        if (root.TryGetProperty("path", out _))
        {
            var path = RequiredString(json, root, "path");
            smooth = path switch
            {
                "linear" => false,
                "smooth" => true,
                _ => throw json.Error("path", $"'{path}' is not a path kind (linear, smooth)."),
            };
        }

        if (!root.TryGetProperty("keyframes", out var list)) throw json.Error("", "missing \"keyframes\".");
        if (list.ValueKind != JsonValueKind.Array) throw json.Error("keyframes", $"expected an array of keyframes, got {Describe(list)}.");
        int count = list.GetArrayLength();
        if (count < 2) throw json.Error("keyframes", $"needs at least two keyframes, got {count}.");

        var times = new double?[count];
        var poses = new Pose[count];
        var easings = new Easing[count];
        for (int i = 0; i < count; i++)
        {
            string at = $"keyframes[{i}]";
            var item = list[i];
            if (item.ValueKind != JsonValueKind.Object) throw json.Error(at, $"expected an object like {{\"x\": 0.5, \"y\": 0.5}}, got {Describe(item)}.");
            RejectUnknown(json, item, at, KeyframeFields);
            times[i] = OptionalNumber(json, item, at, "t");
            double x = OptionalNumber(json, item, at, "x") ?? throw json.Error(at, "missing \"x\".");
            double y = OptionalNumber(json, item, at, "y") ?? throw json.Error(at, "missing \"y\".");
            if (x is < 0 or > 1) throw json.Error($"{at}.x", $"{x} is outside [0, 1] (a fraction of the frame width).");
            if (y is < 0 or > 1) throw json.Error($"{at}.y", $"{y} is outside [0, 1] (a fraction of the frame height).");
            double scale = OptionalNumber(json, item, at, "scale") ?? 1;
            if (!(scale > 0)) throw json.Error($"{at}.scale", $"must be positive, got {scale}.");
            double rotation = OptionalNumber(json, item, at, "rotation") ?? 0;
            poses[i] = new Pose(x, y, scale, rotation);
            easings[i] = Easing.Linear;
            if (item.TryGetProperty("easing", out _))
            {
                var easing = RequiredString(json, item, "easing", at);
                if (!Easings.ByName.TryGetValue(easing, out easings[i]))
                    throw json.Error($"{at}.easing", $"'{easing}' is not an easing ({string.Join(", ", Easings.ByName.Keys)}).");
            }
        }

        var resolved = ResolveTimes(json, times, poses);
        return new CustomMotion(name, Enumerable.Range(0, count).Select(i => new Keyframe(resolved[i], poses[i], easings[i])).ToArray(), smooth, description);
    }

    /// <summary>Given times, checked; none, spread by distance along the polyline.</summary>
    private static double[] ResolveTimes(JsonSource json, double?[] times, Pose[] poses)
    {
        int count = times.Length, given = times.Count(t => t is not null);
        if (given == count)
        {
            if (times[0] != 0) throw json.Error("keyframes[0].t", $"the first keyframe must be at t = 0, got {times[0]}.");
            if (times[^1] != 1) throw json.Error($"keyframes[{count - 1}].t", $"the last keyframe must be at t = 1, got {times[^1]}.");
            for (int i = 1; i < count; i++)
                if (!(times[i] > times[i - 1]))
                    throw json.Error($"keyframes[{i}].t", $"must be greater than the previous keyframe's t ({times[i - 1]}), got {times[i]}.");
            return times.Select(t => t!.Value).ToArray();
        }
        if (given > 0)
        {
            int missing = Array.FindIndex(times, t => t is null);
            throw json.Error($"keyframes[{missing}]", "has no \"t\" while other keyframes have one: give \"t\" on every keyframe, or on none (waypoints at constant speed).");
        }
        var cumulative = new double[count];
        for (int i = 1; i < count; i++)
            cumulative[i] = cumulative[i - 1] + Math.Sqrt(Math.Pow(poses[i].X - poses[i - 1].X, 2) + Math.Pow(poses[i].Y - poses[i - 1].Y, 2));
        for (int i = 1; i < count; i++)
            if (!(cumulative[i] > cumulative[i - 1]))
                throw json.Error($"keyframes[{i}]", "repeats the previous waypoint; without \"t\" the keyframes are timed by distance, so consecutive waypoints must differ.");
        return cumulative.Select((c, i) => i == count - 1 ? 1 : c / cumulative[^1]).ToArray();
    }

    private static void RejectUnknown(JsonSource json, JsonElement obj, string at, string[] known)
    {
        foreach (var property in obj.EnumerateObject())
            if (!known.Contains(property.Name))
                throw json.Error(at.Length == 0 ? property.Name : $"{at}.{property.Name}", $"unknown field (known: {string.Join(", ", known)}).");
    }

    private static string RequiredString(JsonSource json, JsonElement obj, string field, string at = "")
    {
        var path = at.Length == 0 ? field : $"{at}.{field}";
        if (!obj.TryGetProperty(field, out var value)) throw json.Error(at, $"missing \"{field}\".");
        if (value.ValueKind != JsonValueKind.String) throw json.Error(path, $"expected a string, got {Describe(value)}.");
        return value.GetString()!;
    }

    private static double? OptionalNumber(JsonSource json, JsonElement obj, string at, string field)
    {
        if (!obj.TryGetProperty(field, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            throw json.Error($"{at}.{field}", $"expected a number, got {Describe(value)}.");
        return number;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => value.GetRawText(),
    };

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex NamePattern();
}
