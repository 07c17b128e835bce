using MotionTune.IO;
using MotionTune.Models.Layers;
using static TorchSharp.torch;

namespace MotionTune.Models.Autoencoders;

/// <summary>
/// diffusers' <c>AutoencoderKLCogVideoX</c>, the causal 3D VAE of CogVideoX: 8× spatial and 4× temporal compression
/// (4k + 1 frames ↔ k + 1 latent frames). Like diffusers, videos are encoded in batches of 8 frames and latents decoded
/// in batches of 2 frames (the first batch takes the odd remainder), carrying each causal convolution's last frames
/// across batches; optional spatial tiling with blended overlaps and per-sample slicing bound memory further.
/// </summary>
public sealed class AutoencoderKLCogVideoX : nn.Module
{
    /// <summary>Encoder.</summary>
    public readonly CogVideoXEncoder3D encoder;
    /// <summary>Decoder.</summary>
    public readonly CogVideoXDecoder3D decoder;
    /// <summary>Optional 1×1×1 convolution after the encoder (diffusers sizes it 2 · out_channels).</summary>
    public readonly CogVideoXSafeConv3d? quant_conv;
    /// <summary>Optional 1×1×1 convolution before the decoder (diffusers sizes it out_channels).</summary>
    public readonly CogVideoXSafeConv3d? post_quant_conv;

    /// <summary>The config the model was built from.</summary>
    public AutoencoderKLCogVideoXConfig Config { get; }

    /// <summary>Spatial compression, 2^(blocks − 1) (8).</summary>
    public int SpatialCompressionRatio { get; }

    /// <summary>Video frames encoded per batch (diffusers: 8).</summary>
    public int NumSampleFramesBatchSize { get; set; } = 8;
    /// <summary>Latent frames decoded per batch (diffusers: 2; the VAE was not trained for other values).</summary>
    public int NumLatentFramesBatchSize { get; set; } = 2;
    /// <summary>Encode/decode one sample of the batch at a time.</summary>
    public bool UseSlicing { get; set; }
    /// <summary>Encode/decode in overlapping spatial tiles when the input is larger than a tile (off by default, as in diffusers).</summary>
    public bool UseTiling { get; set; }
    /// <summary>Tile height in pixels (diffusers: sample_height / 2).</summary>
    public int TileSampleMinHeight { get; set; }
    /// <summary>Tile width in pixels (diffusers: sample_width / 2).</summary>
    public int TileSampleMinWidth { get; set; }
    /// <summary>Fraction of a tile's height that overlaps the next tile (diffusers: 1/6).</summary>
    public double TileOverlapFactorHeight { get; set; } = 1.0 / 6;
    /// <summary>Fraction of a tile's width that overlaps the next tile (diffusers: 1/5).</summary>
    public double TileOverlapFactorWidth { get; set; } = 1.0 / 5;

    private int TileLatentMinHeight => (int)(TileSampleMinHeight / (double)SpatialCompressionRatio);
    private int TileLatentMinWidth => (int)(TileSampleMinWidth / (double)SpatialCompressionRatio);

    /// <summary>Creates the model; parameters follow <see cref="ParameterFactory"/>'s scope.</summary>
    public AutoencoderKLCogVideoX(AutoencoderKLCogVideoXConfig config) : base(nameof(AutoencoderKLCogVideoX))
    {
        Validate(config);
        Config = config;
        encoder = new CogVideoXEncoder3D(config);
        decoder = new CogVideoXDecoder3D(config);
        if (config.UseQuantConv) quant_conv = new CogVideoXSafeConv3d(2L * config.OutChannels, 2L * config.OutChannels, (1, 1, 1));
        if (config.UsePostQuantConv) post_quant_conv = new CogVideoXSafeConv3d(config.OutChannels, config.OutChannels, (1, 1, 1));
        SpatialCompressionRatio = 1 << (config.BlockOutChannels.Length - 1);
        TileSampleMinHeight = config.SampleHeight / 2;
        TileSampleMinWidth = config.SampleWidth / 2;
        RegisterComponents();
    }

    /// <summary>
    /// Loads a diffusers <c>vae</c> folder (config.json + safetensors weights, strict), building the model uninitialised on
    /// <paramref name="device"/> in <paramref name="dtype"/> (default float32) first.
    /// </summary>
    public static AutoencoderKLCogVideoX FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = ConfigFile.Load<AutoencoderKLCogVideoXConfig>(Path.Combine(folder, "config.json"));
        AutoencoderKLCogVideoX model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false))
            model = new AutoencoderKLCogVideoX(config);
        StateDictLoader.LoadFolder(model, folder);
        return model;
    }

    /// <summary>Encodes (B, C, F, H, W) video in [−1, 1] to the latent distribution (unscaled latents).</summary>
    public CogVideoXLatentDistribution Encode(Tensor video)
    {
        CheckVideo(video, Config.InChannels, "video");
        using var scope = NewDisposeScope();
        var moments = UseSlicing && video.shape[0] > 1
            ? cat(video.split(1).Select(EncodeOne).ToArray())
            : EncodeOne(video);
        var distribution = new CogVideoXLatentDistribution(moments);
        distribution.Mean.MoveToOuterDisposeScope();
        distribution.LogVar.MoveToOuterDisposeScope();
        return distribution;
    }

    /// <summary>Decodes (B, latent, F, h, w) unscaled latents to (B, C, 4(F − 1) + 1, 8h, 8w) video in about [−1, 1].</summary>
    public Tensor Decode(Tensor latents)
    {
        CheckVideo(latents, Config.LatentChannels, "latents");
        using var scope = NewDisposeScope();
        var video = UseSlicing && latents.shape[0] > 1
            ? cat(latents.split(1).Select(DecodeOne).ToArray())
            : DecodeOne(latents);
        return video.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Video (B, C, F, H, W) in [−1, 1] → transformer-scale latents (B, latent, F', h, w): a sample of the posterior
    /// (or its mean when <paramref name="sample"/> is false) times <c>scaling_factor</c>.
    /// </summary>
    public Tensor EncodeVideo(Tensor video, bool sample = true, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        using var distribution = Encode(video);
        var latents = sample ? distribution.Sample(generator) : distribution.Mode();
        return (latents * Config.ScalingFactor).MoveToOuterDisposeScope();
    }

    /// <summary>Transformer-scale latents (B, latent, F, h, w) → video (B, C, F', H, W): divides by <c>scaling_factor</c> and decodes.</summary>
    public Tensor DecodeVideo(Tensor latents)
    {
        using var scope = NewDisposeScope();
        return Decode(latents / Config.ScalingFactor).MoveToOuterDisposeScope();
    }

    /// <summary>Reconstructs a video through the posterior mean (diffusers' forward with sample_posterior false).</summary>
    public Tensor forward(Tensor video)
    {
        using var scope = NewDisposeScope();
        using var distribution = Encode(video);
        return Decode(distribution.Mean).MoveToOuterDisposeScope();
    }

    private Tensor EncodeOne(Tensor video)
    {
        long h = video.shape[3], w = video.shape[4];
        if (UseTiling && (w > TileSampleMinWidth || h > TileSampleMinHeight)) return TiledEncode(video);
        return EncodeFrames(video);
    }

    private Tensor DecodeOne(Tensor latents)
    {
        long h = latents.shape[3], w = latents.shape[4];
        if (UseTiling && (w > TileLatentMinWidth || h > TileLatentMinHeight)) return TiledDecode(latents);
        return DecodeFrames(latents);
    }

    /// <summary>Encodes frame batch after frame batch with one conv cache (diffusers' <c>_encode</c>).</summary>
    private Tensor EncodeFrames(Tensor video)
    {
        using var scope = NewDisposeScope();
        using var cache = new CogVideoXConvCache();
        var parts = new List<Tensor>();
        foreach (var (start, end) in FrameBatches(video.shape[2], NumSampleFramesBatchSize))
        {
            var moments = encoder.forward(video[.., .., (int)start..(int)end], cache);
            parts.Add(quant_conv is null ? moments : quant_conv.forward(moments));
        }
        return cat(parts, 2).MoveToOuterDisposeScope();
    }

    /// <summary>Decodes latent-frame batch after batch with one conv cache (diffusers' <c>_decode</c>).</summary>
    private Tensor DecodeFrames(Tensor latents)
    {
        using var scope = NewDisposeScope();
        using var cache = new CogVideoXConvCache();
        var parts = new List<Tensor>();
        foreach (var (start, end) in FrameBatches(latents.shape[2], NumLatentFramesBatchSize))
        {
            var z = latents[.., .., (int)start..(int)end];
            if (post_quant_conv is not null) z = post_quant_conv.forward(z);
            parts.Add(decoder.forward(z, cache));
        }
        return cat(parts, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// diffusers' frame batches: max(F / size, 1) batches of <paramref name="size"/> frames, the first one also taking the
    /// F mod size remainder (so 13 latent frames decode as 3, 2, 2, 2, 2, 2 and 49 video frames encode as 9, 8, ..., 8).
    /// </summary>
    internal static IEnumerable<(long Start, long End)> FrameBatches(long frames, long size)
    {
        long batches = Math.Max(frames / size, 1), remainder = frames % size;
        for (long i = 0; i < batches; i++)
            yield return (size * i + (i == 0 ? 0 : remainder), Math.Min(size * (i + 1) + remainder, frames));
    }

    /// <summary>diffusers' <c>tiled_encode</c>: overlapping pixel tiles, each frame-batched, blended in latent space.</summary>
    private Tensor TiledEncode(Tensor video)
    {
        using var scope = NewDisposeScope();
        long height = video.shape[3], width = video.shape[4];
        int strideHeight = (int)(TileSampleMinHeight * (1 - TileOverlapFactorHeight));
        int strideWidth = (int)(TileSampleMinWidth * (1 - TileOverlapFactorWidth));
        int blendHeight = (int)(TileLatentMinHeight * TileOverlapFactorHeight);
        int blendWidth = (int)(TileLatentMinWidth * TileOverlapFactorWidth);
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < height; i += strideHeight)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < width; j += strideWidth)
                row.Add(EncodeFrames(video[.., .., .., (int)i..(int)Math.Min(i + TileSampleMinHeight, height), (int)j..(int)Math.Min(j + TileSampleMinWidth, width)]));
            rows.Add(row);
        }
        return Blend(rows, blendHeight, blendWidth, TileLatentMinHeight - blendHeight, TileLatentMinWidth - blendWidth).MoveToOuterDisposeScope();
    }

    /// <summary>diffusers' <c>tiled_decode</c>: overlapping latent tiles, each frame-batched, blended in pixel space.</summary>
    private Tensor TiledDecode(Tensor latents)
    {
        using var scope = NewDisposeScope();
        long height = latents.shape[3], width = latents.shape[4];
        int strideHeight = (int)(TileLatentMinHeight * (1 - TileOverlapFactorHeight));
        int strideWidth = (int)(TileLatentMinWidth * (1 - TileOverlapFactorWidth));
        int blendHeight = (int)(TileSampleMinHeight * TileOverlapFactorHeight);
        int blendWidth = (int)(TileSampleMinWidth * TileOverlapFactorWidth);
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < height; i += strideHeight)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < width; j += strideWidth)
                row.Add(DecodeFrames(latents[.., .., .., (int)i..(int)Math.Min(i + TileLatentMinHeight, height), (int)j..(int)Math.Min(j + TileLatentMinWidth, width)]));
            rows.Add(row);
        }
        return Blend(rows, blendHeight, blendWidth, TileSampleMinHeight - blendHeight, TileSampleMinWidth - blendWidth).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Blends each tile with the tile above and the tile to its left (in place, in diffusers' order, so later tiles blend
    /// with already blended neighbours) and stitches the tiles' top-left <paramref name="limitHeight"/> ×
    /// <paramref name="limitWidth"/> parts.
    /// </summary>
    internal static Tensor Blend(List<List<Tensor>> rows, int blendHeight, int blendWidth, int limitHeight, int limitWidth)
    {
        using var scope = NewDisposeScope();
        var stitchedRows = new List<Tensor>();
        for (int i = 0; i < rows.Count; i++)
        {
            var parts = new List<Tensor>();
            for (int j = 0; j < rows[i].Count; j++)
            {
                var tile = rows[i][j];
                if (i > 0) BlendInto(rows[i - 1][j], tile, blendHeight, dim: 3);
                if (j > 0) BlendInto(rows[i][j - 1], tile, blendWidth, dim: 4);
                parts.Add(tile[.., .., .., ..(int)Math.Min(limitHeight, tile.shape[3]), ..(int)Math.Min(limitWidth, tile.shape[4])]);
            }
            stitchedRows.Add(cat(parts, 4));
        }
        return cat(stitchedRows, 3).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// diffusers' <c>blend_v</c> (dim 3) / <c>blend_h</c> (dim 4): the first e rows (columns) of <paramref name="b"/> become
    /// a·(1 − y/e) + b·(y/e) with a's last e rows, e = min(extent, both sizes).
    /// </summary>
    internal static void BlendInto(Tensor a, Tensor b, int extent, int dim)
    {
        extent = (int)Math.Min(Math.Min(a.shape[dim], b.shape[dim]), extent);
        if (extent <= 0) return;
        using var scope = NewDisposeScope();
        // The weights are computed in double and applied in float32, as PyTorch applies a Python float to a tensor.
        var shape = Enumerable.Repeat(1L, 5).ToArray();
        shape[dim] = extent;
        var toB = tensor(Enumerable.Range(0, extent).Select(y => (float)(y / (double)extent)).ToArray(), device: b.device).view(shape);
        var toA = tensor(Enumerable.Range(0, extent).Select(y => (float)(1 - y / (double)extent)).ToArray(), device: b.device).view(shape);
        var head = b.narrow(dim, 0, extent);
        var tail = a.narrow(dim, a.shape[dim] - extent, extent);
        head.copy_(tail * toA + head * toB);
    }

    private static void CheckVideo(Tensor x, int channels, string what)
    {
        if (x.dim() != 5 || x.shape[1] != channels)
            throw new ArgumentException($"AutoencoderKLCogVideoX: {what} must be (B, {channels}, F, H, W), got [{string.Join(", ", x.shape)}].");
    }

    private static void Validate(AutoencoderKLCogVideoXConfig c)
    {
        if (c.BlockOutChannels.Length == 0 || c.DownBlockTypes.Length != c.BlockOutChannels.Length || c.UpBlockTypes.Length != c.BlockOutChannels.Length)
            throw new ArgumentException("AutoencoderKLCogVideoX: block_out_channels, down_block_types and up_block_types must have the same, non-zero length.");
        if (c.ActFn is not ("silu" or "swish"))
            throw new NotSupportedException($"AutoencoderKLCogVideoX: act_fn '{c.ActFn}' is not supported (CogVideoX uses silu).");
        double halvings = Math.Log2(c.TemporalCompressionRatio);
        if (c.TemporalCompressionRatio < 1 || halvings != Math.Floor(halvings))
            throw new ArgumentException($"AutoencoderKLCogVideoX: temporal_compression_ratio {c.TemporalCompressionRatio} is not a power of two.");
    }
}
