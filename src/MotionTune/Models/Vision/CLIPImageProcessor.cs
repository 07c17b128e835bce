using System.Text.Json;
using System.Text.Json.Serialization;
using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.Models.Vision;

/// <summary><c>preprocessor_config.json</c> of a transformers <c>CLIPImageProcessor</c>; defaults are transformers'.</summary>
public sealed record CLIPImageProcessorConfig : ModelConfig
{
    /// <summary>Whether to resize.</summary>
    public bool DoResize { get; init; } = true;
    /// <summary><c>{"shortest_edge": n}</c>, <c>{"height": h, "width": w}</c>, or (old files) a number meaning the shortest edge.</summary>
    public JsonElement? Size { get; init; }
    /// <summary>PIL filter number (3 = bicubic).</summary>
    public int Resample { get; init; } = (int)PilFilter.Bicubic;
    /// <summary>Whether to crop the centre.</summary>
    public bool DoCenterCrop { get; init; } = true;
    /// <summary><c>{"height": h, "width": w}</c> or (old files) a number.</summary>
    public JsonElement? CropSize { get; init; }
    /// <summary>Whether to multiply by <see cref="RescaleFactor"/>.</summary>
    public bool DoRescale { get; init; } = true;
    /// <summary>1/255.</summary>
    public double RescaleFactor { get; init; } = 1 / 255.0;
    /// <summary>Whether to subtract the mean and divide by the std.</summary>
    public bool DoNormalize { get; init; } = true;
    /// <summary>Per-channel mean (OpenAI CLIP's by default).</summary>
    public double[] ImageMean { get; init; } = [0.48145466, 0.4578275, 0.40821073];
    /// <summary>Per-channel std (OpenAI CLIP's by default).</summary>
    public double[] ImageStd { get; init; } = [0.26862954, 0.26130258, 0.27577711];
    /// <summary>Whether grey and RGBA inputs become RGB.</summary>
    public bool DoConvertRgb { get; init; } = true;

    /// <inheritdoc />
    [JsonIgnore]
    protected override IReadOnlyCollection<string> InertKeys =>
        ["image_processor_type", "feature_extractor_type", "processor_class", "default_to_square", "use_square_size"];
}

/// <summary>Which of transformers' two image-processor backends to reproduce.</summary>
public enum ImageProcessorBackend
{
    /// <summary>
    /// The torchvision backend, what transformers 5 uses by default when torchvision is installed: uint8 antialiased
    /// resize by libtorch itself (<c>interpolate(..., antialias=True)</c> on a uint8 tensor, on the CPU), then rescale
    /// and normalise fused as (x − 255·mean) / (255·std) in float32.
    /// </summary>
    Torchvision,
    /// <summary>
    /// The PIL backend (transformers 4's <c>CLIPImageProcessor</c>, and 5's <c>CLIPImageProcessorPil</c>): Pillow's
    /// resize (our exact port, <see cref="PilResample"/>), rescale in float64 stored as float32, then normalise in float32.
    /// </summary>
    Pil,
}

/// <summary>
/// CLIP's image preprocessing as transformers does it: convert to RGB, resize so the shortest edge is
/// <c>size.shortest_edge</c> (the long edge rounded down) with an antialiased filter, crop the centre, rescale by 1/255
/// and normalise with the mean/std. Both of transformers' backends are reproduced exactly (see
/// <see cref="ImageProcessorBackend"/>); they differ by one grey level at a few pixels.
/// </summary>
public sealed class CLIPImageProcessor
{
    /// <summary>The settings.</summary>
    public CLIPImageProcessorConfig Config { get; }
    /// <summary>The backend reproduced.</summary>
    public ImageProcessorBackend Backend { get; }
    private readonly (int? ShortestEdge, int Height, int Width) _size;
    private readonly (int Height, int Width) _crop;

    /// <summary>Creates the processor; missing sizes take transformers' defaults (shortest edge 224, crop 224×224).</summary>
    public CLIPImageProcessor(CLIPImageProcessorConfig config, ImageProcessorBackend backend = ImageProcessorBackend.Torchvision)
    {
        Config = config;
        Backend = backend;
        _size = config.Size is { } size ? ParseSize(size, "size") : (224, 0, 0);
        var crop = config.CropSize is { } c ? ParseSize(c, "crop_size") : (null, 224, 224);
        _crop = crop.ShortestEdge is { } edge ? (edge, edge) : (crop.Height, crop.Width);
        if (config.ImageMean.Length != 3 || config.ImageStd.Length != 3)
            throw new ArgumentException("CLIP image processor: image_mean and image_std need one value per RGB channel.");
        if (!Enum.IsDefined((PilFilter)config.Resample))
            throw new ArgumentException($"CLIP image processor: resample {config.Resample} is not a supported PIL filter.");
    }

    /// <summary>The (height, width) of the output pixels.</summary>
    public (int Height, int Width) OutputSize => Config.DoCenterCrop ? _crop : throw new InvalidOperationException("Without a centre crop the size depends on the image.");

    /// <summary>Reads <c>preprocessor_config.json</c> from a folder (or the file itself).</summary>
    public static CLIPImageProcessor FromPretrained(string folderOrFile, ImageProcessorBackend backend = ImageProcessorBackend.Torchvision)
    {
        var path = Directory.Exists(folderOrFile) ? Path.Combine(folderOrFile, "preprocessor_config.json") : folderOrFile;
        return new CLIPImageProcessor(ConfigFile.Load<CLIPImageProcessorConfig>(path), backend);
    }

    private static (int? ShortestEdge, int Height, int Width) ParseSize(JsonElement size, string key)
    {
        if (size.ValueKind == JsonValueKind.Number) return (size.GetInt32(), 0, 0);
        if (size.ValueKind == JsonValueKind.Object)
        {
            if (size.TryGetProperty("shortest_edge", out var edge)) return (edge.GetInt32(), 0, 0);
            if (size.TryGetProperty("height", out var h) && size.TryGetProperty("width", out var w)) return (null, h.GetInt32(), w.GetInt32());
        }
        throw new ArgumentException($"CLIP image processor: {key} must be a number, {{\"shortest_edge\": n}} or {{\"height\": h, \"width\": w}}; got {size.GetRawText()}.");
    }

    /// <summary>
    /// Preprocesses uint8 images, each (height, width, channels) with 1, 3 or 4 channels, into float32 pixel values
    /// (images, 3, crop height, crop width) on the CPU.
    /// </summary>
    public Tensor Preprocess(IEnumerable<Tensor> images)
    {
        var processed = images.Select(Process).ToList();
        if (processed.Count == 0) throw new ArgumentException("CLIP image processor: no images.");
        var (h, w) = (processed[0].Height, processed[0].Width);
        if (processed.Any(p => p.Height != h || p.Width != w))
            throw new ArgumentException("CLIP image processor: without a centre crop, images of different sizes cannot form one batch.");
        var data = new float[processed.Count * 3 * h * w];
        for (int i = 0; i < processed.Count; i++) processed[i].Pixels.CopyTo(data, i * 3 * h * w);
        return tensor(data, [processed.Count, 3, h, w]);
    }

    /// <summary>Preprocesses one uint8 image (height, width, channels), or a batch (images, height, width, channels).</summary>
    public Tensor Preprocess(Tensor images) => images.dim() switch
    {
        3 => Preprocess([images]),
        4 => Preprocess(Enumerable.Range(0, (int)images.shape[0]).Select(i => images[i])),
        _ => throw new ArgumentException($"CLIP image processor: expected (height, width, channels) uint8 images, got [{string.Join(", ", images.shape)}]."),
    };

    private (float[] Pixels, int Height, int Width) Process(Tensor image)
    {
        if (image.dtype != ScalarType.Byte || image.dim() != 3)
            throw new ArgumentException($"CLIP image processor: expected a (height, width, channels) uint8 image, got {image.dtype} [{string.Join(", ", image.shape)}].");
        int height = (int)image.shape[0], width = (int)image.shape[1], channels = (int)image.shape[2];
        byte[] pixels;
        using (var cpu = image.cpu().contiguous()) pixels = cpu.data<byte>().ToArray();
        if (Config.DoConvertRgb || channels != 3) (pixels, channels) = ToRgb(pixels, channels);

        if (Config.DoResize)
        {
            var (outH, outW) = ResizedSize(height, width);
            pixels = Backend == ImageProcessorBackend.Pil
                ? PilResample.Resize(pixels, height, width, 3, outH, outW, (PilFilter)Config.Resample)
                : TorchResize(pixels, height, width, outH, outW, (PilFilter)Config.Resample);
            (height, width) = (outH, outW);
        }
        if (Config.DoCenterCrop) (pixels, height, width) = CenterCrop(pixels, height, width, _crop.Height, _crop.Width, Backend);

        var output = new float[3 * height * width];
        var (scale, offset) = NormalizationTerms();
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < height * width; i++)
                output[c * height * width + i] = Normalize(pixels[i * 3 + c], c, scale, offset);
        return (output, height, width);
    }

    private (float[] Mean, float[] Std) NormalizationTerms()
    {
        var mean = Config.ImageMean.Select(m => (float)m).ToArray();
        var std = Config.ImageStd.Select(s => (float)s).ToArray();
        if (Backend == ImageProcessorBackend.Torchvision && Config.DoRescale && Config.DoNormalize)
        {
            // torchvision fuses rescale into normalisation: mean and std divided by the factor, in float32.
            float inverse = (float)(1.0 / Config.RescaleFactor);
            return (mean.Select(m => m * inverse).ToArray(), std.Select(s => s * inverse).ToArray());
        }
        return (mean, std);
    }

    private float Normalize(byte value, int channel, float[] mean, float[] std)
    {
        if (Backend == ImageProcessorBackend.Torchvision)
        {
            if (Config.DoNormalize) return (value - mean[channel]) / std[channel];
            return Config.DoRescale ? value * (float)Config.RescaleFactor : value;
        }
        // PIL backend: numpy rescales in float64 and stores float32, then normalises in float32.
        float v = Config.DoRescale ? (float)(value * Config.RescaleFactor) : value;
        return Config.DoNormalize ? (v - mean[channel]) / std[channel] : v;
    }

    /// <summary>
    /// libtorch's antialiased resize of a uint8 image (what torchvision runs for uint8 input on the CPU), so the
    /// result is the reference's by construction.
    /// </summary>
    private static byte[] TorchResize(byte[] pixels, int height, int width, int outHeight, int outWidth, PilFilter filter)
    {
        var mode = filter switch
        {
            PilFilter.Bicubic => InterpolationMode.Bicubic,
            PilFilter.Bilinear => InterpolationMode.Bilinear,
            _ => throw new ArgumentException($"CLIP image processor: the torchvision backend resizes with bilinear or bicubic, not {filter}."),
        };
        using var scope = NewDisposeScope();
        var image = tensor(pixels, [height, width, 3]).permute(2, 0, 1).unsqueeze(0);
        var resized = TorchSharp.torch.nn.functional.interpolate(image, [outHeight, outWidth], mode: mode, align_corners: false, antialias: true);
        return resized[0].permute(1, 2, 0).contiguous().data<byte>().ToArray();
    }

    /// <summary>transformers' get_resize_output_image_size(default_to_square=False), or the fixed (height, width).</summary>
    public (int Height, int Width) ResizedSize(int height, int width)
    {
        if (_size.ShortestEdge is not { } edge) return (_size.Height, _size.Width);
        bool portrait = width <= height;
        int shortSide = portrait ? width : height, longSide = portrait ? height : width;
        int newLong = (int)((long)edge * longSide / (double)shortSide);
        return portrait ? (newLong, edge) : (edge, newLong);
    }

    private static (byte[] Rgb, int Channels) ToRgb(byte[] pixels, int channels)
    {
        if (channels == 3) return (pixels, 3);
        if (channels is not (1 or 4)) throw new ArgumentException($"CLIP image processor: {channels} channels cannot be converted to RGB.");
        int n = pixels.Length / channels;
        var rgb = new byte[n * 3];
        // Grey repeats; RGBA drops alpha, as PIL's convert("RGB") does.
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) rgb[i * 3 + c] = pixels[i * channels + (channels == 1 ? 0 : c)];
        return (rgb, 3);
    }

    /// <summary>
    /// transformers' centre crop. PIL backend: offsets (size − crop) // 2, and where the image is smaller it is
    /// zero-padded by ceil((crop − size) / 2) first, which lands on the same offsets. Torchvision backend: the image is
    /// padded by (crop − size) // 2 before and the rest after, then cropped at int((size − crop) / 2).
    /// </summary>
    private static (byte[] Pixels, int Height, int Width) CenterCrop(byte[] pixels, int height, int width, int cropH, int cropW,
        ImageProcessorBackend backend)
    {
        int Offset(int size, int crop) => backend == ImageProcessorBackend.Pil || size >= crop
            ? FloorDiv(size - crop, 2)
            : -((crop - size) / 2);
        int top = Offset(height, cropH), left = Offset(width, cropW);
        var output = new byte[cropH * cropW * 3];
        for (int y = 0; y < cropH; y++)
            for (int x = 0; x < cropW; x++)
            {
                int sy = y + top, sx = x + left;
                if (sy < 0 || sy >= height || sx < 0 || sx >= width) continue; // zero padding
                Buffer.BlockCopy(pixels, (sy * width + sx) * 3, output, (y * cropW + x) * 3, 3);
            }
        return (output, cropH, cropW);
    }

    private static int FloorDiv(int a, int b) => (int)Math.Floor(a / (double)b);
}
