using System.Text.RegularExpressions;
using MotionTune.IO;
using MotionTune.Models.Layers;
using TorchSharp.Modules;
using Linear = MotionTune.Models.Layers.Linear;
using Conv2d = MotionTune.Models.Layers.Conv2d;
using GroupNorm = MotionTune.Models.Layers.GroupNorm;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.Models.Unets;

/// <summary>
/// diffusers' <c>UNet3DConditionModel</c>, the denoiser of ModelScope text-to-video (and zeroscope): a 2D UNet run on
/// every frame (resnets, spatial transformers with text cross-attention) interleaved with temporal convolutions and
/// temporal transformers across the frames. Takes a noisy latent video (B, C, F, H, W), timesteps and text features
/// (B, L, D); returns the prediction (B, C, F, H, W). Inside, videos travel as frame batches (B·F, C, H, W), as in diffusers.
/// </summary>
public sealed partial class UNet3DConditionModel : nn.Module, IGradientCheckpointing
{
    /// <summary>Input convolution.</summary>
    public readonly Conv2d conv_in;
    /// <summary>Sinusoidal timestep features (no parameters).</summary>
    public readonly Timesteps time_proj;
    /// <summary>Timestep MLP.</summary>
    public readonly TimestepEmbedding time_embedding;
    /// <summary>Temporal transformer right after <see cref="conv_in"/>.</summary>
    public readonly TransformerTemporalModel transformer_in;
    /// <summary>Contracting path.</summary>
    public readonly ModuleList<UNet3DDownBlock> down_blocks;
    /// <summary>Bottleneck.</summary>
    public readonly UNetMidBlock3DCrossAttn mid_block;
    /// <summary>Expanding path.</summary>
    public readonly ModuleList<UNet3DUpBlock> up_blocks;
    /// <summary>Output norm, or null when the config has no norm groups.</summary>
    public readonly GroupNorm? conv_norm_out;
    /// <summary>Output convolution.</summary>
    public readonly Conv2d conv_out;

    private readonly int _numUpsamplers;
    private bool _gradientCheckpointing;

    /// <summary>The config the model was built from.</summary>
    public UNet3DConditionConfig Config { get; }

    /// <summary>Builds the model (parameters follow <see cref="ParameterFactory"/>'s current scope).</summary>
    /// <exception cref="ArgumentException">The config is inconsistent or uses an option diffusers' model does not support.</exception>
    public UNet3DConditionModel(UNet3DConditionConfig config) : base(nameof(UNet3DConditionModel))
    {
        Config = config;
        Validate(config);
        int levels = config.BlockOutChannels.Length;
        int[] headDims = config.AttentionHeadDim.Count == 1
            ? Enumerable.Repeat(config.AttentionHeadDim[0], levels).ToArray()
            : config.AttentionHeadDim.ToArray();
        int groups = config.NormNumGroups!.Value;
        long c0 = config.BlockOutChannels[0];
        long timeEmbedDim = c0 * 4;
        UNet3DBlockOptions Options(int headDim) =>
            new(timeEmbedDim, config.NormEps, config.ActFn, groups, config.CrossAttentionDim, headDim);

        conv_in = new Conv2d(config.InChannels, c0, 3, padding: 1);
        time_proj = new Timesteps((int)c0, flipSinToCos: true, downscaleFreqShift: 0);
        time_embedding = new TimestepEmbedding(c0, timeEmbedDim, config.ActFn);
        // diffusers passes attention_head_dim here as the head width, with 8 heads.
        transformer_in = new TransformerTemporalModel(8, config.AttentionHeadDim[0], c0, groups);

        var down = new List<UNet3DDownBlock>();
        long output = c0;
        for (int i = 0; i < levels; i++)
        {
            long input = output;
            output = config.BlockOutChannels[i];
            bool last = i == levels - 1;
            var options = Options(headDims[i]);
            down.Add(config.DownBlockTypes[i] switch
            {
                "CrossAttnDownBlock3D" => new CrossAttnDownBlock3D(input, output, config.LayersPerBlock, !last, config.DownsamplePadding, options),
                "DownBlock3D" => new DownBlock3D(input, output, config.LayersPerBlock, !last, config.DownsamplePadding, options),
                var other => throw new ArgumentException($"UNet3DConditionModel: down block type '{other}' is not supported (CrossAttnDownBlock3D, DownBlock3D)."),
            });
        }
        down_blocks = new ModuleList<UNet3DDownBlock>(down.ToArray());

        mid_block = new UNetMidBlock3DCrossAttn(config.BlockOutChannels[^1], Options(headDims[^1]), config.MidBlockScaleFactor);

        var up = new List<UNet3DUpBlock>();
        var reversedChannels = config.BlockOutChannels.Reverse().ToArray();
        var reversedHeadDims = headDims.Reverse().ToArray();
        output = reversedChannels[0];
        for (int i = 0; i < levels; i++)
        {
            bool last = i == levels - 1;
            long prevOutput = output;
            output = reversedChannels[i];
            long input = reversedChannels[Math.Min(i + 1, levels - 1)];
            if (!last) _numUpsamplers++;
            var options = Options(reversedHeadDims[i]);
            up.Add(config.UpBlockTypes[i] switch
            {
                "CrossAttnUpBlock3D" => new CrossAttnUpBlock3D(input, output, prevOutput, config.LayersPerBlock + 1, !last, options),
                "UpBlock3D" => new UpBlock3D(input, output, prevOutput, config.LayersPerBlock + 1, !last, options),
                var other => throw new ArgumentException($"UNet3DConditionModel: up block type '{other}' is not supported (CrossAttnUpBlock3D, UpBlock3D)."),
            });
        }
        up_blocks = new ModuleList<UNet3DUpBlock>(up.ToArray());

        conv_norm_out = new GroupNorm(groups, c0, config.NormEps);
        conv_out = new Conv2d(c0, config.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    private static void Validate(UNet3DConditionConfig config)
    {
        int levels = config.BlockOutChannels.Length;
        if (levels == 0) throw new ArgumentException("UNet3DConditionModel: block_out_channels is empty.");
        if (config.DownBlockTypes.Length != levels || config.UpBlockTypes.Length != levels)
            throw new ArgumentException($"UNet3DConditionModel: {config.DownBlockTypes.Length} down and {config.UpBlockTypes.Length} up block " +
                $"types for {levels} block_out_channels; they must all have the same length.");
        if (config.NumAttentionHeads is not null)
            throw new ArgumentException("UNet3DConditionModel: num_attention_heads must be null (diffusers rejects it; attention_head_dim sets the head width).");
        if (config.AttentionHeadDim.Count != 1 && config.AttentionHeadDim.Count != levels)
            throw new ArgumentException($"UNet3DConditionModel: attention_head_dim has {config.AttentionHeadDim.Count} values for {levels} blocks.");
        if (config.TimeCondProjDim is not null)
            throw new ArgumentException("UNet3DConditionModel: time_cond_proj_dim is not supported.");
        if (config.NormNumGroups is null)
            throw new ArgumentException("UNet3DConditionModel: norm_num_groups must be set (the resnets and temporal layers need it).");
        if (config.LayersPerBlock < 1) throw new ArgumentException("UNet3DConditionModel: layers_per_block must be at least 1.");
    }

    /// <summary>Loads a diffusers-format UNet folder (<c>config.json</c> + safetensors), strictly.</summary>
    /// <param name="folder">The folder, e.g. <c>text-to-video-ms-1.7b/unet</c>.</param>
    /// <param name="device">Where the weights live (CPU by default).</param>
    /// <param name="dtype">Parameter dtype (float32 by default; bfloat16 on GPU for speed).</param>
    /// <returns>The model in evaluation mode.</returns>
    public static UNet3DConditionModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"UNet folder not found: {folder}");
        var config = ConfigFile.Load<UNet3DConditionConfig>(Path.Combine(folder, "config.json"));
        UNet3DConditionModel model;
        using (ParameterFactory.Scope(device ?? CPU, dtype ?? ScalarType.Float32, initialize: false))
            model = new UNet3DConditionModel(config);
        StateDictLoader.LoadFolder(model, folder);
        model.eval();
        return model;
    }

    /// <summary>
    /// Gradient checkpointing for training: each layer of the down, mid and up blocks (resnet, temporal convolution
    /// and, where present, spatial and temporal transformer) keeps only its inputs and is recomputed during the
    /// backward pass, which costs about one extra forward. Dropout masks are replayed (see <see cref="GradientCheckpoint"/>).
    /// Applies only while gradients are recorded.
    /// </summary>
    public bool GradientCheckpointing
    {
        get => _gradientCheckpointing;
        set
        {
            _gradientCheckpointing = value;
            foreach (var block in down_blocks) block.GradientCheckpointing = value;
            mid_block.GradientCheckpointing = value;
            foreach (var block in up_blocks) block.GradientCheckpointing = value;
        }
    }

    /// <summary>The dtype of the parameters.</summary>
    public ScalarType DType => conv_in.weight.dtype;

    /// <summary>
    /// Every projection of the temporal attention layers (those of <c>transformer_in</c> and of each
    /// <c>temp_attentions</c> transformer: <c>attn1</c>/<c>attn2</c> × <c>to_q</c>, <c>to_k</c>, <c>to_v</c>,
    /// <c>to_out.0</c>), with its module name as in the state dict (e.g.
    /// <c>down_blocks.0.temp_attentions.0.transformer_blocks.0.attn1.to_q</c>): the layers temporal LoRA adapts.
    /// </summary>
    public IEnumerable<(string Name, Linear Layer)> TemporalAttentionProjections() =>
        named_modules()
            .Where(m => m.module is Linear && TemporalProjectionName().IsMatch(m.name))
            .Select(m => (m.name, (Linear)m.module));

    [GeneratedRegex(@"^(transformer_in|.*\.temp_attentions\.\d+)\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$")]
    private static partial Regex TemporalProjectionName();

    /// <summary>
    /// Whether the UNet runs channels-last on CUDA (see <see cref="ChannelsLast"/>): its convolution weights are re-laid
    /// out once, in place, at the first CUDA forward, and inference keeps the activations channels-last from the input
    /// to the output, so no convolution transposes and the spatial transformers read their tokens without a copy (the
    /// H100's CFG step: 51.1 → 43.3 ms as a CUDA graph). On by default; the environment variable
    /// <c>MOTIONTUNE_CHANNELS_LAST=0</c> turns it off. CPU runs are unchanged.
    /// </summary>
    public static bool UseChannelsLast { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_CHANNELS_LAST") != "0";

    /// <summary>Runs this model's channels-last path on the CPU too (tests check it there against the default layout).</summary>
    internal bool ChannelsLastOnCpu { get; set; }

    private bool _convWeightsChannelsLast;

    /// <summary>Re-lays every convolution weight out channels-last (once; in place, so graphs and optimizers keep them).</summary>
    private void RelayoutConvolutions()
    {
        foreach (var module in modules())
        {
            if (module is Conv2d conv2d) ChannelsLast.Relayout(conv2d.weight);
            else if (module is Layers.Conv3d conv3d && conv3d.weight.shape[3] == 1 && conv3d.weight.shape[4] == 1) ChannelsLast.Relayout(conv3d.weight);
        }
        _convWeightsChannelsLast = true;
    }

    /// <summary>Runs the model with one timestep for the whole batch.</summary>
    public Tensor forward(Tensor sample, double timestep, Tensor encoderHiddenStates)
    {
        using var t = tensor(new[] { timestep }, ScalarType.Float64, sample.device);
        return forward(sample, t, encoderHiddenStates);
    }

    /// <summary>
    /// Predicts for a latent video <paramref name="sample"/> (B, C, F, H, W) at <paramref name="timestep"/> (a scalar
    /// tensor, one element, or one per sample) given text features <paramref name="encoderHiddenStates"/> (B, L, D).
    /// Inputs are cast to the parameters' dtype. Returns (B, C_out, F, H, W) in that dtype, as a permuted view of the
    /// frame batch, as diffusers does.
    /// </summary>
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates)
    {
        CheckInputs(sample, timestep, encoderHiddenStates);
        using var scope = NewDisposeScope();
        var (b, c, f, h, w) = (sample.shape[0], sample.shape[1], sample.shape[2], sample.shape[3], sample.shape[4]);

        // Odd sizes: the upsamplers must hit the skip states' sizes instead of doubling.
        long factor = 1L << _numUpsamplers;
        bool forwardUpsampleSize = h % factor != 0 || w % factor != 0;

        // 1. Time: one embedding per video, repeated for each of its frames; likewise the text.
        var timesteps = timestep.reshape(-1).to(sample.device);
        if (timesteps.shape[0] == 1 && b != 1) timesteps = timesteps.expand(b);
        var tEmb = time_proj.forward(timesteps).to(DType);
        var emb = time_embedding.forward(tEmb).repeat_interleave(f, 0, b * f);
        var text = encoderHiddenStates.to(DType).repeat_interleave(f, 0, b * f);

        // 2. Pre-process: (B, C, F, H, W) -> frame batch (B·F, C, H, W), in the parameters' dtype; channels-last on CUDA
        // at inference (one copy either way).
        bool channelsLast = UseChannelsLast && (sample.is_cuda || ChannelsLastOnCpu);
        if (channelsLast && !_convWeightsChannelsLast) RelayoutConvolutions();
        // Training keeps default-layout activations: channels-last ones took the H100's graphed LoRA step from 78.0 to
        // 77.8 ms only, and the GroupNorm kernels that would keep them channels-last have no backward.
        var frames = channelsLast && !is_grad_enabled()
            ? sample.to(DType).permute(0, 2, 3, 4, 1).contiguous().view(b * f, h, w, c).permute(0, 3, 1, 2)
            : sample.to(DType).permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w);
        var x = frames
            .Pipe(conv_in.forward)
            .Pipe(t => transformer_in.forward(t, f));

        // 3. Down
        var skips = new List<Tensor> { x };
        foreach (var block in down_blocks) x = block.forward(x, emb, text, f, skips);

        // 4. Mid (its input is a skip state, kept)
        x = mid_block.forward(x, emb, text, f);

        // 5. Up: each block takes the last skip states; they and its input are released once it has run.
        for (int i = 0; i < up_blocks.Count; i++)
        {
            var block = up_blocks[i];
            var blockSkips = skips.GetRange(skips.Count - block.SkipCount, block.SkipCount);
            skips.RemoveRange(skips.Count - block.SkipCount, block.SkipCount);
            long[]? upsampleSize = forwardUpsampleSize && i < up_blocks.Count - 1 ? skips[^1].shape[2..] : null;
            var next = block.forward(x, blockSkips, emb, text, f, upsampleSize);
            x.Dispose();
            foreach (var skip in blockSkips) skip.Dispose();
            x = next;
        }

        // 6. Post-process, and back to (B, C, F, H, W).
        if (conv_norm_out is not null) x = x.Pipe(conv_norm_out.forward).Pipe(t => F.silu(t));
        x = x.Pipe(conv_out.forward);
        var output = x.view(b, f, x.shape[1], h, w).permute(0, 2, 1, 3, 4);
        return output.MoveToOuterDisposeScope();
    }

    private void CheckInputs(Tensor sample, Tensor timestep, Tensor encoderHiddenStates)
    {
        if (sample.dim() != 5 || sample.shape[1] != Config.InChannels)
            throw new ArgumentException($"UNet3DConditionModel: sample must be (B, {Config.InChannels}, F, H, W), got [{string.Join(", ", sample.shape)}].");
        long b = sample.shape[0];
        if (encoderHiddenStates.dim() != 3 || encoderHiddenStates.shape[0] != b || encoderHiddenStates.shape[2] != Config.CrossAttentionDim)
            throw new ArgumentException($"UNet3DConditionModel: encoder_hidden_states must be ({b}, L, {Config.CrossAttentionDim}), " +
                $"got [{string.Join(", ", encoderHiddenStates.shape)}].");
        if (timestep.numel() != 1 && timestep.numel() != b)
            throw new ArgumentException($"UNet3DConditionModel: {timestep.numel()} timesteps for a batch of {b} (give one, or one per sample).");
    }
}
