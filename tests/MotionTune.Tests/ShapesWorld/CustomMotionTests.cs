using System.Text;
using MotionTune.ShapesWorld;

namespace MotionTune.Tests.ShapesWorld;

public sealed class CustomMotionTests
{
    private static CustomMotion Parse(string json) => CustomMotion.Parse(Encoding.UTF8.GetBytes(json), "m.json");

    [Fact]
    public void TheShippedMotionsLoadAndStayInView()
    {
        var motions = CustomMotions.BuiltIn();
        Assert.True(motions.Count >= 8, $"{motions.Count} custom motions shipped; the tau sweep needs at least 8 tasks");
        Assert.Contains(motions, m => m.Name == "figure-eight");
        foreach (var motion in motions)
        {
            Assert.DoesNotContain(motion.Name, MotionLibrary.All.Select(m => m.Name));
            var trajectory = motion.Sample(16, new Random(0));
            Assert.All(trajectory.Poses, p =>
            {
                Assert.InRange(p.X, 0.15, 0.85);
                Assert.InRange(p.Y, 0.15, 0.85);
            });
            // The object really moves: the path spans at least a fifth of the frame.
            Assert.True(trajectory.Poses.Max(p => Math.Max(p.X, p.Y)) - trajectory.Poses.Min(p => Math.Min(p.X, p.Y)) > 0.2, motion.Name);
        }
    }

    [Fact]
    public void KeyframesAreHitAtTheirTimesAndEasingShapesTheSegments()
    {
        var motion = Parse("""
            { "name": "probe", "keyframes": [
              { "t": 0, "x": 0.2, "y": 0.5, "easing": "ease-in", "scale": 1, "rotation": 0 },
              { "t": 0.5, "x": 0.6, "y": 0.5, "easing": "ease-out" },
              { "t": 1, "x": 0.8, "y": 0.3, "scale": 2, "rotation": 90 } ] }
            """);
        Assert.Equal(new Pose(0.2, 0.5), motion.PoseAt(0));
        Assert.Equal(new Pose(0.6, 0.5), motion.PoseAt(0.5));
        Assert.Equal(new Pose(0.8, 0.3, 2, 90), motion.PoseAt(1));
        Assert.Equal(0.2 + 0.4 * 0.25, motion.PoseAt(0.25).X, 12);                      // ease-in: u² at u = 0.5
        Assert.Equal(0.6 + 0.2 * 0.75, motion.PoseAt(0.75).X, 12);                      // ease-out: 1 - (1 - u)²
        Assert.Equal(1.75, motion.PoseAt(0.75).Scale, 12);
        Assert.Equal(0.5, Easing.EaseInOut.Apply(0.5), 12);
        Assert.Equal(0.125, Easing.EaseInOut.Apply(0.25), 12);
    }

    [Fact]
    public void WaypointsWithoutTimesMoveAtConstantSpeed()
    {
        var motion = Parse("""{ "name": "ell", "keyframes": [ { "x": 0.2, "y": 0.2 }, { "x": 0.8, "y": 0.2 }, { "x": 0.8, "y": 0.5 } ] }""");
        Assert.Equal(2.0 / 3, motion.Keyframes[1].T, 12);                                 // 0.6 of 0.9 of the way
        var poses = motion.Sample(10, new Random(0)).Poses;
        var steps = poses.Zip(poses.Skip(1), (a, b) => Math.Abs(b.X - a.X) + Math.Abs(b.Y - a.Y)).ToArray();
        Assert.All(steps, s => Assert.Equal(0.1, s, 9));
    }

    [Fact]
    public void SmoothClosedPathsPassThroughTheirPoints()
    {
        var figure = CustomMotions.BuiltIn().Single(m => m.Name == "figure-eight");
        Assert.True(figure.Smooth);
        foreach (var k in figure.Keyframes)
        {
            var pose = figure.PoseAt(k.T);
            Assert.Equal(k.Pose.X, pose.X, 9);
            Assert.Equal(k.Pose.Y, pose.Y, 9);
        }
    }

    [Fact]
    public void ToJsonRoundTrips()
    {
        foreach (var motion in CustomMotions.BuiltIn())
        {
            var again = Parse(motion.ToJson());
            Assert.Equal(motion.Name, again.Name);
            Assert.Equal(motion.Description, again.Description);
            Assert.Equal(motion.Smooth, again.Smooth);
            Assert.Equal(motion.Keyframes, again.Keyframes);
        }
    }

    [Theory]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5 }\n    { \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:4: invalid JSON")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5 },\n    { \"y\": 0.5 } ] }", "m.json:4: keyframes[1]: missing \"x\"")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5 },\n    { \"x\": \"0.6\", \"y\": 0.5 } ] }", "m.json:4: keyframes[1].x: expected a number, got the string \"0.6\"")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5, \"easeing\": \"linear\" },\n    { \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:3: keyframes[0].easeing: unknown field")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5, \"easing\": \"bouncy\" },\n    { \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:3: keyframes[0].easing: 'bouncy' is not an easing")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"t\": 0, \"x\": 0.5, \"y\": 0.5 },\n    { \"t\": 0.7, \"x\": 0.6, \"y\": 0.5 },\n    { \"t\": 0.6, \"x\": 0.6, \"y\": 0.5 },\n    { \"t\": 1, \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:5: keyframes[2].t: must be greater than the previous keyframe's t (0.7)")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"t\": 0, \"x\": 0.5, \"y\": 0.5 },\n    { \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:4: keyframes[1]: has no \"t\"")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"t\": 0, \"x\": 0.5, \"y\": 0.5 },\n    { \"t\": 0.9, \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:4: keyframes[1].t: the last keyframe must be at t = 1")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 1.5 },\n    { \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:3: keyframes[0].y: 1.5 is outside [0, 1]")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5, \"scale\": 0 },\n    { \"x\": 0.6, \"y\": 0.5 } ] }", "m.json:3: keyframes[0].scale: must be positive")]
    [InlineData("{ \"name\": \"a\",\n  \"keyframes\": [\n    { \"x\": 0.5, \"y\": 0.5 } ] }", "m.json:2: keyframes: needs at least two keyframes, got 1")]
    [InlineData("{ \"name\": \"Figure 8\",\n  \"keyframes\": [] }", "m.json:1: name: 'Figure 8' must be lower-case")]
    [InlineData("{\n  \"keyframes\": [] }", "m.json:1: missing \"name\"")]
    [InlineData("{ \"name\": \"a\", \"path\": \"curvy\",\n  \"keyframes\": [] }", "m.json:1: path: 'curvy' is not a path kind")]
    [InlineData("[1, 2]", "m.json:1: expected a JSON object")]
    public void MalformedFilesNameTheLineAndField(string json, string message)
    {
        var error = Assert.Throws<FormatException>(() => Parse(json));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void LoadNamesTheFile()
    {
        var dir = Directory.CreateTempSubdirectory("motiontune-motion-").FullName;
        try
        {
            var path = Path.Combine(dir, "bad.json");
            File.WriteAllText(path, "{ \"name\": \"bad\",\n  \"keyframes\": [\n    { \"x\": 0.5 },\n    { \"x\": 0.6, \"y\": 0.5 } ] }");
            var error = Assert.Throws<FormatException>(() => CustomMotions.LoadFolder(dir));
            Assert.StartsWith($"{path}:3: keyframes[0]: missing \"y\"", error.Message);
            Assert.Throws<FileNotFoundException>(() => CustomMotion.Load(Path.Combine(dir, "absent.json")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
