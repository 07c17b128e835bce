using MotionTune.Models.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Transformers;

/// <summary>
/// diffusers' <c>CogVideoXPatchEmbed</c> (CogVideoX 1.0): text features through <c>text_proj</c>; each latent frame cut
/// into p × p patches by <c>proj</c> (a stride-p convolution); 2B-style sin-cos positions (or 5B-I2V's learned table)
/// added to the video tokens. diffusers concatenates [text, video] and adds a table whose text rows are zero; the two
/// parts are returned separately here, which is the same and saves a copy.
/// </summary>
public sealed class CogVideoXPatchEmbed : nn.Module
{
    /// <summary>Patch projection, a Conv2d of kernel and stride p.</summary>
    public readonly Conv2d proj;
    /// <summary>Text feature projection.</summary>
    public readonly Linear text_proj;
    /// <summary>Learned positional table (1, max_text_seq_length + patches, dim), present only with use_learned_positional_embeddings.</summary>
    public readonly Tensor? pos_embedding;

    private readonly CogVideoXTransformer3DConfig _config;
    private readonly bool _sinCos;
    private readonly TensorCache _positions = new();

    /// <summary>Creates the layer for <paramref name="config"/>.</summary>
    public CogVideoXPatchEmbed(CogVideoXTransformer3DConfig config) : base(nameof(CogVideoXPatchEmbed))
    {
        _config = config;
        int dim = config.InnerDim, p = config.PatchSize;
        proj = new Conv2d(config.InChannels, dim, p, p, 0, config.PatchBias);
        text_proj = new Linear(config.TextEmbedDim, dim);
        _sinCos = !config.UseRotaryPositionalEmbeddings;
        if (config.UseLearnedPositionalEmbeddings)
        {
            long patches = (long)(config.SampleHeight / p) * (config.SampleWidth / p) * LatentFrames(config.SampleFrames);
            pos_embedding = empty([1, config.MaxTextSeqLength + patches, dim], ParameterFactory.DType, ParameterFactory.Device);
            if (ParameterFactory.Initialize)
                using (no_grad())
                {
                    // diffusers starts the learned table from the sin-cos table; the checkpoint overwrites it.
                    pos_embedding.zero_();
                    using var table = SinCosTable(LatentFrames(config.SampleFrames), config.SampleHeight / p, config.SampleWidth / p);
                    pos_embedding[0, TensorIndex.Slice(config.MaxTextSeqLength)].copy_(table);
                }
        }
        RegisterComponents();
    }

    /// <summary>
    /// Embeds (B, L, text_embed_dim) text and (B, F, C, H, W) latents; returns the text tokens (B, L, dim) and the video
    /// tokens (B, F · H/p · W/p, dim), ordered frame, row, column, with their positions added.
    /// </summary>
    public (Tensor Text, Tensor Video) forward(Tensor textEmbeds, Tensor imageEmbeds)
    {
        using var scope = NewDisposeScope();
        var text = text_proj.forward(textEmbeds);

        long b = imageEmbeds.shape[0], f = imageEmbeds.shape[1], c = imageEmbeds.shape[2];
        long h = imageEmbeds.shape[3], w = imageEmbeds.shape[4];
        int p = _config.PatchSize;
        long hp = h / p, wp = w / p;
        // The stride-p convolution as a matmul over gathered patches: rearranging the C-channel input is far cheaper than
        // rearranging the dim-channel output of a Conv2d into token order.
        var patches = imageEmbeds.view(b, f, c, hp, p, wp, p).permute(0, 1, 3, 5, 2, 4, 6).reshape(b, f * hp * wp, c * p * p);
        var video = Linear.Project(patches, proj.weight.view(proj.weight.shape[0], -1), proj.bias);
        FlopCounter.AddLinear(patches, c * p * p, proj.weight.shape[0]);

        if (_sinCos || pos_embedding is not null)
            video = video + Positions(f, hp, wp, video.device, video.dtype);
        return (text.MoveToOuterDisposeScope(), video.MoveToOuterDisposeScope());
    }

    /// <summary>The positions of the video tokens, (1, F · hp · wp, dim), as diffusers chooses them.</summary>
    private Tensor Positions(long frames, long rows, long columns, Device device, ScalarType dtype)
    {
        int p = _config.PatchSize;
        bool trainingGrid = rows == _config.SampleHeight / p && columns == _config.SampleWidth / p;
        if (pos_embedding is not null)
        {
            if (!trainingGrid)
                throw new ArgumentException(
                    $"This CogVideoX transformer has learned positions for a {_config.SampleHeight / p}x{_config.SampleWidth / p} patch grid " +
                    $"and cannot take {rows}x{columns} (as in diffusers).");
            // diffusers uses the learned table only at the training frame count and falls back to sin-cos otherwise.
            if (frames == LatentFrames(_config.SampleFrames))
                return pos_embedding[TensorIndex.Colon, TensorIndex.Slice(_config.MaxTextSeqLength)].to(dtype, device);
        }
        return _positions.Get((frames, rows, columns), device, dtype, () => SinCosTable(frames, rows, columns).unsqueeze(0));
    }

    private Tensor SinCosTable(long frames, long rows, long columns) =>
        CogVideoXPositions.SinCos3D(_config.InnerDim, (int)rows, (int)columns, (int)frames,
            _config.SpatialInterpolationScale, _config.TemporalInterpolationScale);

    private int LatentFrames(int sampleFrames) => (sampleFrames - 1) / _config.TemporalCompressionRatio + 1;
}
