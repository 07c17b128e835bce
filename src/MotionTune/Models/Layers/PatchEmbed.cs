using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Layers;

/// <summary>
/// diffusers' <c>PatchEmbed</c> (sin-cos positions, no layer norm): non-overlapping p×p patches projected by
/// <c>proj</c> (a stride-p convolution in the checkpoint), plus fixed 2D sin-cos positions. The positions are not
/// part of the checkpoint (diffusers keeps them in a non-persistent buffer); they are computed for the input's grid.
/// </summary>
public sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    /// <summary>Patch projection, weight (dim, C, p, p).</summary>
    public readonly Conv2d proj;

    private readonly long _patch, _dim, _baseSize;
    private readonly double _interpolationScale;
    private readonly TensorCache _positions = new();

    /// <summary>Creates the layer for latents of <paramref name="height"/> × <paramref name="width"/>.</summary>
    /// <param name="height">Latent height the model was trained at; sets diffusers' <c>base_size</c> = height / patch.</param>
    /// <param name="width">Latent width the model was trained at.</param>
    /// <param name="patchSize">Patch side p.</param>
    /// <param name="inChannels">Latent channels C.</param>
    /// <param name="embedDim">Token width.</param>
    /// <param name="interpolationScale">Divides the position coordinates (diffusers' <c>interpolation_scale</c>).</param>
    public PatchEmbed(long height, long width, long patchSize, long inChannels, long embedDim, double interpolationScale = 1)
        : base(nameof(PatchEmbed))
    {
        if (patchSize <= 0) throw new ArgumentException($"PatchEmbed: patch size must be positive, got {patchSize}.");
        _ = width; // the position grid follows the input; only the height sets the base size, as in diffusers
        (_patch, _dim, _baseSize, _interpolationScale) = (patchSize, embedDim, height / patchSize, interpolationScale);
        proj = new Conv2d(inChannels, embedDim, patchSize, stride: patchSize);
        RegisterComponents();
    }

    /// <summary>
    /// Images (N, C, H, W) → (N, h·w, dim), or videos (B, C, F, H, W) → (B·F, h·w, dim) with frames of a video
    /// consecutive; tokens are row-major over the (h, w) = (H/p, W/p) patch grid.
    /// </summary>
    public override Tensor forward(Tensor latent)
    {
        bool video = latent.dim() == 5;
        if (!video && latent.dim() != 4)
            throw new ArgumentException($"PatchEmbed: expected (N, C, H, W) or (B, C, F, H, W), got [{string.Join(", ", latent.shape)}].");
        using var scope = NewDisposeScope();
        if (!video) latent = latent.unsqueeze(2);
        long b = latent.shape[0], c = latent.shape[1], f = latent.shape[2], height = latent.shape[3], width = latent.shape[4];
        if (height % _patch != 0 || width % _patch != 0)
            throw new ArgumentException($"PatchEmbed: latent size {height}x{width} is not a multiple of the patch size {_patch}.");
        long rows = height / _patch, cols = width / _patch;

        // A stride-p convolution is a matmul over flattened patches; gathering the patches frames-first also
        // performs the (B, C, F) -> (B·F, C) rearrangement in the same single copy of the (small) latent.
        var patches = latent.view(b, c, f, rows, _patch, cols, _patch)
            .permute(0, 2, 3, 5, 1, 4, 6)
            .reshape(b * f * rows * cols, c * _patch * _patch);
        var weight = proj.weight.view(_dim, -1);
        var tokens = F.linear(patches.to(weight.dtype), weight, proj.bias).view(b * f, rows * cols, _dim);
        var positions = _positions.Get((rows, cols), tokens.device, tokens.dtype,
            () => SinCosPositions.TwoD(_dim, rows, cols, _baseSize, _interpolationScale));
        return (tokens + positions).MoveToOuterDisposeScope();
    }
}
