using FFMpegCore;
using MotionTune.IO;
using MotionTune.Runtime;
using MotionTune.Video;
using OpenCvSharp;
using static TorchSharp.torch;

namespace MotionTune.Tests.Video;

public sealed class VideoFileTests : IDisposable
{
    private static readonly byte[] Red = [220, 30, 40], Blue = [30, 60, 210], Green = [40, 200, 60], Yellow = [230, 220, 40];
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-video-").FullName;

    public VideoFileTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Even frames red | blue, odd frames green | yellow.</summary>
    private static Tensor Alternating(int frames, int height, int width) =>
        SyntheticVideo.TwoColour(frames, height, width, f => f % 2 == 0 ? Red : Green, f => f % 2 == 0 ? Blue : Yellow);

    /// <summary>Mean RGB of a patch in the middle of the left or right half of frame <paramref name="f"/>.</summary>
    private static double[] PatchMean(Tensor frames, int f, bool left)
    {
        int h = (int)frames.shape[1], w = (int)frames.shape[2];
        int x0 = left ? w / 4 - 3 : 3 * w / 4 - 3;
        using var patch = frames[f].narrow(0, h / 2 - 3, 6).narrow(1, x0, 6).to(ScalarType.Float64).mean([0, 1]);
        return patch.data<double>().ToArray();
    }

    private static void AssertColour(byte[] expected, double[] actual, double tolerance, string what)
    {
        for (int c = 0; c < 3; c++)
            Assert.True(Math.Abs(expected[c] - actual[c]) <= tolerance,
                $"{what}: channel {c} is {actual[c]:F1}, expected {expected[c]} ± {tolerance}");
    }

    private static void AssertAlternatingColours(Tensor frames, IReadOnlyList<int> sourceIndices, double tolerance)
    {
        for (int f = 0; f < frames.shape[0]; f++)
        {
            bool even = sourceIndices[f] % 2 == 0;
            AssertColour(even ? Red : Green, PatchMean(frames, f, left: true), tolerance, $"frame {f} left");
            AssertColour(even ? Blue : Yellow, PatchMean(frames, f, left: false), tolerance, $"frame {f} right");
        }
    }

    private void AssertNoTemporaryFiles() =>
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_dir), p => Path.GetFileName(p).StartsWith('.'));

    [Fact]
    public void Mp4RoundTripKeepsShapeFrameCountRateAndColours()
    {
        using var frames = Alternating(10, 48, 64);
        var path = PathOf("clip.mp4");
        VideoFile.WriteMp4(path, frames, fps: 8);
        using var clip = VideoFile.Read(path);
        Assert.Equal([10L, 48, 64, 3], clip.Frames.shape);
        Assert.Equal(ScalarType.Byte, clip.Frames.dtype);
        Assert.Equal(8, clip.Fps, 3);
        AssertAlternatingColours(clip.Frames, clip.SourceFrameIndices, tolerance: 12);
        AssertNoTemporaryFiles();
    }

    [Fact]
    public void GifRoundTripKeepsShapeFrameCountAndColours()
    {
        using var frames = Alternating(6, 40, 56);
        var path = PathOf("clip.gif");
        VideoFile.Write(path, frames, fps: 10);
        using var clip = VideoFile.Read(path);
        Assert.Equal([6L, 40, 56, 3], clip.Frames.shape);
        Assert.Equal(10, clip.Fps, 1); // GIF delays are whole 1/100 s: 10 fps is exact
        AssertAlternatingColours(clip.Frames, clip.SourceFrameIndices, tolerance: 8);
        AssertNoTemporaryFiles();
    }

    [Fact]
    public void FrameFolderRoundTripIsExactAndReplacesTheOldFolder()
    {
        using var frames = SyntheticVideo.GreyTexture(5, 24, 32, 1.0, 0.5);
        var folder = PathOf("frames");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "stale.png"), "left from an earlier run");
        VideoFile.WriteFrames(folder, frames);
        Assert.Equal(5, Directory.GetFiles(folder).Length);
        Assert.True(File.Exists(Path.Combine(folder, "frame_00004.png")));
        using var clip = VideoFile.Read(folder, new VideoReadOptions { FallbackFps = 12 });
        Assert.True(frames.SameAs(clip.Frames));
        Assert.Equal(12, clip.Fps);
        AssertNoTemporaryFiles();
    }

    [Fact]
    public void FrameFolderIsReadInNaturalOrderIgnoringOtherFiles()
    {
        var folder = PathOf("numbered");
        Directory.CreateDirectory(folder);
        foreach (var i in new[] { 10, 2, 1 })
        {
            using var frame = new Mat(8, 8, MatType.CV_8UC3, new Scalar(i, i, i));
            Cv2.ImWrite(Path.Combine(folder, $"f{i}.{(i == 2 ? "jpg" : "png")}"), frame);
        }
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not a frame");
        using var clip = VideoFile.Read(folder);
        Assert.Equal(3, clip.FrameCount);
        var firstPixels = Enumerable.Range(0, 3).Select(f => (int)clip.Frames[f, 0, 0, 0].item<byte>()).ToArray();
        Assert.Equal([1, 2, 10], firstPixels);
    }

    [Fact]
    public void EvenIndicesIncludeBothEndsAndRoundHalfUp()
    {
        Assert.Equal([0, 3, 6, 9], FrameSampling.EvenIndices(10, 4));
        Assert.Equal([0, 2, 4, 5, 7, 9], FrameSampling.EvenIndices(10, 6)); // 0, 1.8, 3.6, 5.4, 7.2, 9
        Assert.Equal([0, 2, 4], FrameSampling.EvenIndices(5, 3));
        Assert.Equal([0, 2, 3], FrameSampling.EvenIndices(4, 3)); // 0, 1.5, 3: the half rounds up
        Assert.Equal([0], FrameSampling.EvenIndices(7, 1));
        Assert.Equal(Enumerable.Range(0, 16), FrameSampling.EvenIndices(16, 16));
        var many = FrameSampling.EvenIndices(128, 16);
        Assert.Equal(0, many[0]);
        Assert.Equal(127, many[^1]);
        Assert.True(many.Zip(many.Skip(1)).All(p => p.Second > p.First));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameSampling.EvenIndices(3, 4));
        Assert.Equal(8.0 * 3 / 9, FrameSampling.SampledFps(8, 10, 4), 12);
    }

    [Fact]
    public void ReadingWithAFrameCountTakesTheEvenlySampledFrames()
    {
        using var frames = Alternating(10, 32, 32);
        var path = PathOf("sampled.mp4");
        VideoFile.WriteMp4(path, frames, fps: 9);
        using var clip = VideoFile.Read(path, new VideoReadOptions { FrameCount = 4 });
        Assert.Equal([0, 3, 6, 9], clip.SourceFrameIndices);
        Assert.Equal(4, clip.FrameCount);
        Assert.Equal(9.0 * 3 / 9, clip.Fps, 6);
        AssertAlternatingColours(clip.Frames, clip.SourceFrameIndices, tolerance: 12);
        var error = Assert.Throws<ArgumentException>(() => VideoFile.Read(path, new VideoReadOptions { FrameCount = 11 }));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void FitCoversAndCropsTheCentreStretchesOrOnlyCrops()
    {
        // 40 x 80: red | green (the middle half) | blue
        using var frame = new Mat(40, 80, MatType.CV_8UC3, new Scalar(0, 255, 0));
        frame[new Rect(0, 0, 20, 40)].SetTo(new Scalar(0, 0, 255));
        frame[new Rect(60, 0, 20, 40)].SetTo(new Scalar(255, 0, 0));

        using var cover = FrameGeometry.Fit(frame, 20, 20, ResizeMode.CoverAndCenterCrop);
        Assert.Equal((20, 20), (cover.Rows, cover.Cols));
        AssertGreen(Cv2.Mean(cover)); // scaled to 20 x 40, the centre 20 columns are green

        using var stretch = FrameGeometry.Fit(frame, 20, 20, ResizeMode.Stretch);
        Assert.Equal((20, 20), (stretch.Rows, stretch.Cols));
        Assert.Equal(new Vec3b(0, 0, 255), stretch.At<Vec3b>(10, 1)); // red still on the left

        using var crop = FrameGeometry.Fit(frame, 10, 30, ResizeMode.CenterCropOnly);
        Assert.Equal((10, 30), (crop.Rows, crop.Cols));
        AssertGreen(Cv2.Mean(crop));
        Assert.Throws<ArgumentException>(() => FrameGeometry.Fit(frame, 50, 50, ResizeMode.CenterCropOnly));

        using var upscaled = FrameGeometry.Fit(frame, 60, 60, ResizeMode.CoverAndCenterCrop); // 1.5x -> 60 x 120
        Assert.Equal((60, 60), (upscaled.Rows, upscaled.Cols));
        Assert.Equal(new Vec3b(0, 255, 0), upscaled.At<Vec3b>(30, 30));
    }

    private static void AssertGreen(Scalar bgrMean)
    {
        Assert.Equal(0, bgrMean.Val0, 9);
        Assert.Equal(255, bgrMean.Val1, 9);
        Assert.Equal(0, bgrMean.Val2, 9);
    }

    [Fact]
    public void ReadResizesAndCropsEveryFrame()
    {
        using var frames = Alternating(3, 30, 60);
        var folder = PathOf("wide");
        VideoFile.WriteFrames(folder, frames);
        using var clip = VideoFile.Read(folder, new VideoReadOptions { Height = 16, Width = 16 });
        Assert.Equal([3L, 16, 16, 3], clip.Frames.shape);
        // Covering 16 x 16 scales 30 x 60 to 16 x 32 and keeps columns 8..23: the two halves meet in the middle.
        Assert.Equal(Red, clip.Frames[0, 8, 2].data<byte>().ToArray());
        Assert.Equal(Blue, clip.Frames[0, 8, 13].data<byte>().ToArray());
        Assert.Throws<ArgumentException>(() => VideoFile.Read(folder, new VideoReadOptions { Height = 16 }));
    }

    [Fact]
    public void OddSizesArePaddedToEvenForMp4AndFloatFramesAreAccepted()
    {
        using var frames = Alternating(4, 33, 47);
        using var asFloat = frames.to(ScalarType.Float32) / 255;
        var path = PathOf("odd.mp4");
        VideoFile.WriteMp4(path, asFloat, fps: 8);
        using var clip = VideoFile.Read(path);
        Assert.Equal([4L, 34, 48, 3], clip.Frames.shape);
        using var floats = VideoFile.ReadFloat(path);
        Assert.Equal(ScalarType.Float32, floats.dtype);
        Assert.InRange(floats.min().item<float>(), 0f, 1f);
        Assert.InRange(floats.max().item<float>(), 0f, 1f);
    }

    [Fact]
    public void WebmAndAv1AreRead()
    {
        using var frames = Alternating(6, 32, 48);
        using var source = new VideoClip(frames.alias(), 8);
        var mp4 = PathOf("source.mp4");
        VideoFile.Write(mp4, source);
        // webm (VP9) decodes in OpenCV; AV1 does not (no AV1 decoder in its FFmpeg), so it goes through the system ffmpeg.
        foreach (var (name, codec) in new[] { ("clip.webm", "libvpx-vp9"), ("clip.mkv", "libaom-av1") })
        {
            var path = PathOf(name);
            FFMpegArguments.FromFileInput(mp4)
                .OutputToFile(path, overwrite: true, o => o.WithCustomArgument($"-c:v {codec} -crf 20 -b:v 0" + (codec == "libaom-av1" ? " -cpu-used 8" : "")))
                .ProcessSynchronously();
            using var clip = VideoFile.Read(path, new VideoReadOptions { FrameCount = 3 });
            Assert.Equal([3L, 32, 48, 3], clip.Frames.shape);
            Assert.Equal([0, 3, 5], clip.SourceFrameIndices); // 0, 2.5, 5
            AssertAlternatingColours(clip.Frames, clip.SourceFrameIndices, tolerance: 16);
        }
    }

    [Fact]
    public void FfmpegFallbackDecodesLikeOpenCv()
    {
        using var frames = Alternating(5, 32, 32);
        var path = PathOf("both.mp4");
        VideoFile.WriteMp4(path, frames, fps: 6);
        var options = new VideoReadOptions { FrameCount = 3 };
        using var viaOpenCv = VideoFile.Read(path, options);
        using var viaFfmpeg = FfmpegDecoder.Read(path, options);
        Assert.Equal(viaOpenCv.Frames.shape, viaFfmpeg.Frames.shape);
        Assert.Equal(viaOpenCv.SourceFrameIndices, viaFfmpeg.SourceFrameIndices);
        Assert.Equal(viaOpenCv.Fps, viaFfmpeg.Fps, 6);
        using var difference = (viaOpenCv.Frames.to(ScalarType.Int32) - viaFfmpeg.Frames.to(ScalarType.Int32)).abs().max();
        Assert.True(difference.item<int>() <= 3, $"OpenCV and ffmpeg decodes differ by {difference.item<int>()}");
    }

    [Fact]
    public void MissingEmptyCorruptAndUnsupportedInputsGetClearErrors()
    {
        var missing = PathOf("missing.mp4");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => VideoFile.Read(missing)).Message);

        var empty = PathOf("empty.mp4");
        File.WriteAllBytes(empty, []);
        var emptyError = Assert.Throws<VideoFormatException>(() => VideoFile.Read(empty));
        Assert.Contains(empty, emptyError.Message);
        Assert.Contains("empty", emptyError.Message);

        var corrupt = PathOf("corrupt.mp4");
        File.WriteAllBytes(corrupt, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Assert.Contains(corrupt, Assert.Throws<VideoFormatException>(() => VideoFile.Read(corrupt)).Message);

        var unsupported = PathOf("clip.txt");
        File.WriteAllText(unsupported, "hello");
        var unsupportedError = Assert.Throws<VideoFormatException>(() => VideoFile.Read(unsupported));
        Assert.Contains(unsupported, unsupportedError.Message);
        Assert.Contains(".txt", unsupportedError.Message);

        var noFrames = PathOf("no-frames");
        Directory.CreateDirectory(noFrames);
        Assert.Contains(noFrames, Assert.Throws<VideoFormatException>(() => VideoFile.Read(noFrames)).Message);

        var badFrame = PathOf("bad-frame");
        Directory.CreateDirectory(badFrame);
        File.WriteAllText(Path.Combine(badFrame, "0001.png"), "not a png");
        Assert.Contains("0001.png", Assert.Throws<VideoFormatException>(() => VideoFile.Read(badFrame)).Message);

        using var frames = Alternating(2, 8, 8);
        Assert.Throws<VideoFormatException>(() => VideoFile.Write(PathOf("clip.avi"), frames, 8));
        using var wrongShape = zeros(2, 8, 8, 4, ScalarType.Byte);
        Assert.Throws<ArgumentException>(() => VideoFile.WriteMp4(PathOf("shape.mp4"), wrongShape, 8));
    }

    [Fact]
    public void AFailedEncodeLeavesTheOldFileAndNoTemporaryFiles()
    {
        var path = PathOf("keep.mp4");
        File.WriteAllText(path, "previous contents");
        using var frames = Alternating(2, 8, 8);
        // A frame rate ffmpeg rejects makes the encoder fail after the temporary output was named.
        var error = Assert.Throws<VideoFormatException>(() => VideoFile.WriteMp4(path, frames, fps: 1e-9));
        Assert.Contains(path, error.Message);
        Assert.Equal("previous contents", File.ReadAllText(path));
        AssertNoTemporaryFiles();

        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteVia(PathOf("partial.bin"), tmp =>
        {
            File.WriteAllText(tmp, "half");
            throw new InvalidOperationException("writer failed");
        }));
        Assert.False(File.Exists(PathOf("partial.bin")));
        AssertNoTemporaryFiles();
    }
}
