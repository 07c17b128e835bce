using MotionTune.Models.Vision;
using MotionTune.Runtime;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.Vision;

public sealed class ImageProcessingTests
{
    public ImageProcessingTests() => TorchRuntime.Initialize();

    /// <summary>Pillow's own output (Data/make_pil_resize_golden.py): down, up, one axis, every filter, byte for byte.</summary>
    [Fact]
    public void PilResampleMatchesPillowExactly()
    {
        var data = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Models", "Vision", "Data", "pil_resize_golden.bin"));
        int pos = 0, cases = 0;
        while (pos < data.Length)
        {
            var header = Enumerable.Range(0, 6).Select(i => BitConverter.ToInt32(data, pos + 4 * i)).ToArray();
            pos += 24;
            var (h, w, c, oh, ow, filter) = (header[0], header[1], header[2], header[3], header[4], (PilFilter)header[5]);
            var input = data[pos..(pos += h * w * c)];
            var expected = data[pos..(pos += oh * ow * c)];
            var actual = PilResample.Resize(input, h, w, c, oh, ow, filter);
            int differing = expected.Zip(actual).Count(p => p.First != p.Second);
            Assert.True(differing == 0, $"{h}x{w} -> {oh}x{ow} {filter}: {differing} of {expected.Length} bytes differ from Pillow");
            cases++;
        }
        Assert.Equal(10, cases);
    }

    [Theory]
    [InlineData(48, 64, 32, 42)]   // landscape: short side to 32, long side int(32 * 64 / 48)
    [InlineData(100, 40, 80, 32)]  // portrait
    [InlineData(224, 224, 224, 224)]
    public void ShortestEdgeResizeKeepsTheAspectRatioRoundedDown(int h, int w, int expectedH, int expectedW)
    {
        var processor = new CLIPImageProcessor(new CLIPImageProcessorConfig
        {
            Size = System.Text.Json.JsonDocument.Parse(h == 224 ? "224" : """{"shortest_edge": 32}""").RootElement,
        });
        Assert.Equal((expectedH, expectedW), processor.ResizedSize(h, w));
    }

    [Fact]
    public void ConstantImagesNormaliseToTheirValueInBothBackendsWhateverTheirSizeAndChannels()
    {
        foreach (var backend in new[] { ImageProcessorBackend.Torchvision, ImageProcessorBackend.Pil })
        {
            var processor = new CLIPImageProcessor(new CLIPImageProcessorConfig(), backend);
            var rgb = full(new long[] { 300, 500, 3 }, (byte)200, ScalarType.Byte);
            var grey = full(new long[] { 180, 180, 1 }, (byte)200, ScalarType.Byte);
            var rgba = full(new long[] { 224, 230, 4 }, (byte)200, ScalarType.Byte);
            using var pixels = processor.Preprocess([rgb, grey, rgba]);
            Assert.Equal([3L, 3, 224, 224], pixels.shape);
            var mean = new[] { 0.48145466, 0.4578275, 0.40821073 };
            var std = new[] { 0.26862954, 0.26130258, 0.27577711 };
            for (int c = 0; c < 3; c++)
            {
                double expected = (200 / 255.0 - mean[c]) / std[c];
                Assert.True((pixels[.., c] - expected).abs().max().item<float>() < 1e-5, $"{backend} channel {c}");
            }
        }
    }

    [Fact]
    public void SmallImagesArePaddedWithZerosAroundTheCrop()
    {
        var config = new CLIPImageProcessorConfig { DoResize = false, DoNormalize = false, DoRescale = false,
            CropSize = System.Text.Json.JsonDocument.Parse("""{"height": 4, "width": 4}""").RootElement };
        var image = full(new long[] { 1, 1, 3 }, (byte)9, ScalarType.Byte);
        // 1 pixel into 4: PIL pads ceil(3/2) = 2 before it, torchvision 3 // 2 = 1.
        using var pil = new CLIPImageProcessor(config, ImageProcessorBackend.Pil).Preprocess(image);
        using var tv = new CLIPImageProcessor(config, ImageProcessorBackend.Torchvision).Preprocess(image);
        Assert.Equal(9f, pil[0, 0, 2, 2].item<float>());
        Assert.Equal(9f, tv[0, 0, 1, 1].item<float>());
        Assert.Equal(9f, pil.sum().item<float>() / 3);
        Assert.Equal(9f, tv.sum().item<float>() / 3);
    }

    [Fact]
    public void BadInputsAreRejectedWithTheReason()
    {
        var processor = new CLIPImageProcessor(new CLIPImageProcessorConfig());
        Assert.Contains("uint8", Assert.Throws<ArgumentException>(() => processor.Preprocess(zeros(8, 8, 3))).Message);
        Assert.Contains("channels", Assert.Throws<ArgumentException>(() => processor.Preprocess(zeros(new long[] { 8, 8, 2 }, ScalarType.Byte))).Message);
        Assert.Throws<ArgumentException>(() => new CLIPImageProcessor(new CLIPImageProcessorConfig { Resample = 0 }));
        Assert.Throws<FileNotFoundException>(() => CLIPImageProcessor.FromPretrained(Path.Combine(Path.GetTempPath(), "no-such-folder-xyz")));
    }
}
