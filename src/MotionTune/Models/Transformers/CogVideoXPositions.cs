using MotionTune.Models.Layers;
using static TorchSharp.torch;

namespace MotionTune.Models.Transformers;

/// <summary>
/// CogVideoX's position encodings, computed as diffusers computes them for any frame count and resolution:
/// the 2B model's 3D sin-cos table (<c>get_3d_sincos_pos_embed</c>) and the 5B model's 3D rotary (cos, sin) tables
/// (<c>get_3d_rotary_pos_embed</c> with the crop region of <c>get_resize_crop_region_for_grid</c>, as the pipeline's
/// <c>_prepare_rotary_positional_embeddings</c> calls it).
/// </summary>
public static class CogVideoXPositions
{
    /// <summary>
    /// 3D sin-cos positions (diffusers' <c>get_3d_sincos_pos_embed</c>), (frames · height · width, <paramref name="embedDim"/>)
    /// float32 on the CPU, tokens ordered frame, row, column. The first quarter of the channels encodes the frame, the next
    /// three eighths the column and the last three eighths the row (diffusers' meshgrid puts the column coordinate first).
    /// </summary>
    public static Tensor SinCos3D(int embedDim, int gridHeight, int gridWidth, int frames,
        double spatialInterpolationScale = 1.0, double temporalInterpolationScale = 1.0)
    {
        if (embedDim % 16 != 0) throw new ArgumentException($"3D sin-cos positions need a width divisible by 16, got {embedDim}.");
        using var scope = NewDisposeScope();
        int spatialDim = 3 * embedDim / 4, temporalDim = embedDim / 4;
        long tokens = (long)gridHeight * gridWidth;

        // Grid coordinates are float32 as in diffusers; SinCosPositions evaluates the sinusoids in float64.
        var rows = arange(gridHeight, ScalarType.Float32) / spatialInterpolationScale;
        var columns = arange(gridWidth, ScalarType.Float32) / spatialInterpolationScale;
        var spatial = cat([
            SinCosPositions.OneD(spatialDim / 2, columns.repeat(gridHeight)),
            SinCosPositions.OneD(spatialDim / 2, rows.repeat_interleave(gridWidth))], 1);
        var temporal = SinCosPositions.OneD(temporalDim, arange(frames, ScalarType.Float32) / temporalInterpolationScale);

        var table = cat([
            temporal.unsqueeze(1).expand(frames, tokens, temporalDim),
            spatial.unsqueeze(0).expand(frames, tokens, spatialDim)], -1);
        return table.reshape(frames * tokens, embedDim).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The rotary tables the CogVideoX pipeline gives the transformer for a video of <paramref name="height"/> ×
    /// <paramref name="width"/> pixels and <paramref name="latentFrames"/> latent frames: the latent patch grid is
    /// placed in the crop region of the training grid (sample_width/height over the patch size), as
    /// <c>_prepare_rotary_positional_embeddings</c> does. Returns float32 (cos, sin), each (frames · rows · columns, head dim).
    /// </summary>
    /// <param name="config">The transformer's config (patch size, head dim, training grid).</param>
    /// <param name="height">Video height in pixels.</param>
    /// <param name="width">Video width in pixels.</param>
    /// <param name="latentFrames">Latent frames (13 for 49 video frames).</param>
    /// <param name="vaeScaleFactorSpatial">The VAE's spatial compression, 2^(len(block_out_channels) − 1).</param>
    /// <param name="device">Where to build the tables.</param>
    public static (Tensor Cos, Tensor Sin) RotaryForPipeline(CogVideoXTransformer3DConfig config, int height, int width,
        int latentFrames, int vaeScaleFactorSpatial = 8, Device? device = null)
    {
        if (config.PatchSizeT is not null)
            throw new NotSupportedException("Rotary positions for patch_size_t (CogVideoX 1.5) are not supported.");
        int p = config.PatchSize;
        int gridHeight = height / (vaeScaleFactorSpatial * p);
        int gridWidth = width / (vaeScaleFactorSpatial * p);
        if (gridHeight < 1 || gridWidth < 1 || latentFrames < 1)
            throw new ArgumentException($"No latent patch grid for {latentFrames} latent frames of {height}x{width} pixels " +
                                        $"(VAE factor {vaeScaleFactorSpatial}, patch {p}).");
        int baseWidth = config.SampleWidth / p;
        int baseHeight = config.SampleHeight / p;
        var crop = ResizeCropRegionForGrid((gridHeight, gridWidth), baseWidth, baseHeight);
        return Rotary3D(config.AttentionHeadDim, crop, (gridHeight, gridWidth), latentFrames, device: device);
    }

    /// <summary>
    /// diffusers' <c>get_resize_crop_region_for_grid</c>: the (top, left) and (bottom, right) corners of a
    /// <paramref name="grid"/>-shaped region fitted (aspect preserved) and centred in a target grid.
    /// </summary>
    public static ((int Top, int Left) Start, (int Bottom, int Right) Stop) ResizeCropRegionForGrid(
        (int Height, int Width) grid, int targetWidth, int targetHeight)
    {
        double ratio = grid.Height / (double)grid.Width;
        int resizeHeight, resizeWidth;
        if (ratio > targetHeight / (double)targetWidth)
        {
            resizeHeight = targetHeight;
            resizeWidth = (int)Math.Round(targetHeight / (double)grid.Height * grid.Width); // Python round: half to even
        }
        else
        {
            resizeWidth = targetWidth;
            resizeHeight = (int)Math.Round(targetWidth / (double)grid.Width * grid.Height);
        }
        int top = (int)Math.Round((targetHeight - resizeHeight) / 2.0);
        int left = (int)Math.Round((targetWidth - resizeWidth) / 2.0);
        return ((top, left), (top + resizeHeight, left + resizeWidth));
    }

    /// <summary>
    /// diffusers' <c>get_3d_rotary_pos_embed</c> (linspace grids, real form): float32 (cos, sin), each
    /// (frames · rows · columns, <paramref name="embedDim"/>); a quarter of the channels rotate with the frame and three
    /// eighths each with the row and the column, every frequency repeated for the two channels of its pair.
    /// </summary>
    public static (Tensor Cos, Tensor Sin) Rotary3D(int embedDim, ((int Top, int Left) Start, (int Bottom, int Right) Stop) crop,
        (int Height, int Width) grid, int frames, double theta = 10000, Device? device = null)
    {
        if (embedDim % 8 != 0) throw new ArgumentException($"3D rotary positions need a head width divisible by 8, got {embedDim}.");
        using var scope = NewDisposeScope();
        var (gh, gw) = (grid.Height, grid.Width);
        // linspace(start, stop·(n−1)/n, n) is numpy's linspace(start, stop, n, endpoint=False) as diffusers writes it.
        var rows = linspace(crop.Start.Top, (double)crop.Stop.Bottom * (gh - 1) / gh, gh, ScalarType.Float32, device);
        var columns = linspace(crop.Start.Left, (double)crop.Stop.Right * (gw - 1) / gw, gw, ScalarType.Float32, device);
        var time = linspace(0, (double)frames * (frames - 1) / frames, frames, ScalarType.Float32, device);

        int dimT = embedDim / 4, dimH = embedDim / 8 * 3, dimW = embedDim / 8 * 3;
        var (tCos, tSin) = Rotary1D(dimT, time, theta);
        var (hCos, hSin) = Rotary1D(dimH, rows, theta);
        var (wCos, wSin) = Rotary1D(dimW, columns, theta);

        Tensor Combine(Tensor t, Tensor h, Tensor w) => cat([
            t.view(frames, 1, 1, dimT).expand(frames, gh, gw, dimT),
            h.view(1, gh, 1, dimH).expand(frames, gh, gw, dimH),
            w.view(1, 1, gw, dimW).expand(frames, gh, gw, dimW)], -1).view(-1, embedDim);

        var cos = Combine(tCos, hCos, wCos).MoveToOuterDisposeScope();
        var sin = Combine(tSin, hSin, wSin).MoveToOuterDisposeScope();
        return (cos, sin);
    }

    /// <summary>diffusers' <c>get_1d_rotary_pos_embed(use_real=True)</c> in float32: cos and sin, each (positions, dim).</summary>
    private static (Tensor Cos, Tensor Sin) Rotary1D(int dim, Tensor positions, double theta)
    {
        if (dim % 2 != 0) throw new ArgumentException($"1D rotary positions need an even width, got {dim}.");
        using var scope = NewDisposeScope();
        var exponents = arange(0, dim, 2, ScalarType.Float32, positions.device) / dim;
        var frequencies = 1.0 / full_like(exponents, theta).pow(exponents);
        var angles = positions.outer(frequencies);
        var cos = angles.cos().repeat_interleave(2, 1).MoveToOuterDisposeScope();
        var sin = angles.sin().repeat_interleave(2, 1).MoveToOuterDisposeScope();
        return (cos, sin);
    }
}
