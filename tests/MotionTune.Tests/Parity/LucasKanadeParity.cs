using MotionTune.Metrics;
using OpenCvSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// optical_flow_lk: OpenCV 5.0's pyramidal Lucas-Kanade on a 96 x 96 frame shifted by (2.5, -1.5). Our grid points
/// (spacing 8) must equal the fixture's and be tracked within 0.05 px; the goodFeaturesToTrack corners and their tracks
/// are compared as closely as OpenCV 4.13 (ours) and 5.0 allow.
/// </summary>
[ParityKind("lucas_kanade")]
public sealed class LucasKanadeParity : IParityCheck
{
    /// <summary>Grid tolerance in pixels (the issue's).</summary>
    private const double GridTolerance = 0.05;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        var lk = fixture.Case.GetProperty("calcOpticalFlowPyrLK");
        var options = new LucasKanadeOptions
        {
            WindowSize = lk.GetProperty("winSize")[0].GetInt32(),
            MaxLevel = lk.GetProperty("maxLevel").GetInt32(),
            MaxIterations = lk.GetProperty("criteria_count").GetInt32(),
            Epsilon = lk.GetProperty("criteria_eps").GetDouble(),
        };
        Assert.Equal(lk.GetProperty("winSize")[0].GetInt32(), lk.GetProperty("winSize")[1].GetInt32());
        Assert.Equal(new LucasKanadeOptions(), options); // our defaults are the fixture's settings

        using var frame0 = Gray(fixture.Io("frame0"));
        using var frame1 = Gray(fixture.Io("frame1"));

        // The regular grid, tracked the same way.
        var grid = LucasKanade.GridPoints(frame0.Rows, frame0.Cols, GridFlow.DefaultSpacing);
        using var expectedGrid = fixture.Io("grid0");
        using var ourGrid = Points(grid);
        Assert.True(ourGrid.SameAs(expectedGrid), "grid points differ from the fixture's grid0");
        var trackedGrid = LucasKanade.Track(frame0, frame1, grid, options);
        CompareTracks(fixture, "grid", trackedGrid, GridTolerance, output);

        // goodFeaturesToTrack corners.
        var gf = fixture.Case.GetProperty("goodFeaturesToTrack");
        var corners = Cv2.GoodFeaturesToTrack(frame0, gf.GetProperty("maxCorners").GetInt32(), gf.GetProperty("qualityLevel").GetDouble(),
            gf.GetProperty("minDistance").GetDouble(), null!, gf.GetProperty("blockSize").GetInt32(), false, 0.04);
        using var expectedCorners = fixture.Io("features0");
        using var ourCorners = Points(corners);
        Assert.Equal(expectedCorners.shape, ourCorners.shape);
        var cornerError = ParityAssert.MaxAbsError(ourCorners, expectedCorners);
        output.WriteLine($"{fixture.Name}: {corners.Length} goodFeaturesToTrack corners, max abs error {cornerError:E3} px (OpenCV {Cv2.GetVersionString()} vs {fixture.Case.GetProperty("opencv").GetString()})");
        ParityAssert.Close(ourCorners, expectedCorners, atol: 1e-4, what: "features0");
        // Corner tracks: the fixture's corners as input, so only the tracker is compared.
        var trackedCorners = LucasKanade.Track(frame0, frame1, ToPoints(expectedCorners), options);
        CompareTracks(fixture, "features", trackedCorners, GridTolerance, output);
    }

    private static void CompareTracks(FixtureCase fixture, string name, TrackedPoints tracked, double tolerance, ITestOutputHelper output)
    {
        var statusName = name == "grid" ? "grid_status" : "status";
        using var expectedStatus = fixture.Io(statusName);
        var expectedFound = expectedStatus.data<long>().ToArray().Select(s => s != 0).ToArray();
        Assert.Equal(expectedFound, tracked.Found);

        using var expected = fixture.Io(name + "1");
        using var ours = Points(tracked.Positions);
        using var found = tensor(expectedFound).unsqueeze(1);
        // Positions of lost points are whatever the tracker left there; compare the found ones.
        using var oursFound = ours.masked_select(found).view(-1, 2);
        using var expectedFoundPositions = expected.masked_select(found).view(-1, 2);
        var error = ParityAssert.MaxAbsError(oursFound, expectedFoundPositions);
        output.WriteLine($"{fixture.Name}: {name} {expectedFound.Count(f => f)}/{expectedFound.Length} points tracked, max abs error {error:E3} px (tolerance {tolerance})");
        ParityAssert.Close(oursFound, expectedFoundPositions, atol: tolerance, what: name + "1");
    }

    private static Mat Gray(Tensor frame)
    {
        using var bytes = frame.contiguous();
        return Mat.FromPixelData((int)frame.shape[0], (int)frame.shape[1], MatType.CV_8UC1, bytes.data<byte>().ToArray()).Clone();
    }

    private static Tensor Points(Point2f[] points) =>
        tensor(points.SelectMany(p => new[] { p.X, p.Y }).ToArray(), [points.Length, 2]);

    private static Point2f[] ToPoints(Tensor points)
    {
        var v = points.data<float>().ToArray();
        return Enumerable.Range(0, v.Length / 2).Select(i => new Point2f(v[2 * i], v[2 * i + 1])).ToArray();
    }
}
