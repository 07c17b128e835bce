using System.Diagnostics;
using System.Globalization;
using System.Text;
using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.ShapesWorld.Metrics;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.ShapesWorld;

/// <summary>Settings of a ShapesWorld VAE training run (<c>motiontune shapes train-vae</c>).</summary>
public sealed record VaeTrainingOptions
{
    /// <summary>Where the VAE folder (<c>config.json</c>, safetensors, README.md) is written.</summary>
    public required string Output { get; init; }
    /// <summary>Time budget of the training loop in minutes (default 2); exclusive with <see cref="Steps"/>.</summary>
    public double? Minutes { get; init; }
    /// <summary>Train this many steps instead of for a time budget.</summary>
    public int? Steps { get; init; }
    /// <summary>Clips per step; every frame of each is a training image.</summary>
    public int Clips { get; init; } = 16;
    /// <summary>Peak learning rate (cosine decay to a tenth).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Weight of the posterior's KL divergence from N(0, 1) (per latent value) against the pixel MSE.</summary>
    public double KlWeight { get; init; } = 1e-4;
    /// <summary>Latent channels.</summary>
    public int LatentChannels { get; init; } = 4;
    /// <summary>Training device (default: the runtime's).</summary>
    public Device? Device { get; init; }
    /// <summary>Seed of the clips and the weights.</summary>
    public int Seed { get; init; }
    /// <summary>Held-out clips whose reconstructions are read with the exact metrics at the end.</summary>
    public int EvalClips { get; init; } = 64;
    /// <summary>Steps between progress lines.</summary>
    public int LogEvery { get; init; } = 200;
    /// <summary>Replace a non-empty output folder.</summary>
    public bool Overwrite { get; init; }
    /// <summary>The command line, recorded in the card.</summary>
    public string? Command { get; init; }
}

/// <summary>
/// How faithfully a VAE reconstructs ShapesWorld clips, read with the exact metrics: the share of frames whose
/// reconstruction reads the same colour, shape and background as the rendered frame, the largest centroid shift in
/// pixels, and the PSNR over all pixels.
/// </summary>
public sealed record VaeReconstruction(double Colour, double Shape, double Background, double MaxCentroidShift, double Psnr, int Clips)
{
    /// <summary>One line for logs.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"colour {Colour:P1}, shape {Shape:P1}, background {Background:P1} of frames read alike, centroid shift <= {MaxCentroidShift:F2} px, PSNR {Psnr:F1} dB ({Clips} clips)");
}

/// <summary>The outcome of <see cref="ShapesVae.Train"/>.</summary>
public sealed record VaeTrainingResult(string Folder, int Steps, double TrainingSeconds, double FinalLoss, double ScalingFactor, VaeReconstruction Reconstruction);

/// <summary>
/// The small KL autoencoder of the latent ShapesWorld models: diffusers' <c>AutoencoderKL</c> (the class the real Latte
/// and ModelScope decode with, applied frame by frame), three levels of 32/64/64 channels, so 24 x 24 frames become
/// 6 x 6 latents of <see cref="VaeTrainingOptions.LatentChannels"/> channels. Its convolutional decoder draws the outline
/// of an object from a few latent cells, which the small transformers do not learn to do in pixel space
/// (models/README.md). Trained on frames of training clips with any rotation and a wider size range than the dataset's,
/// so the custom motions that turn or shrink the object (swing, hop) reconstruct too.
/// </summary>
public static class ShapesVae
{
    /// <summary>The VAE config (scaling factor 1 until training measures it).</summary>
    public static AutoencoderKLConfig Config(int latentChannels = 4) => new()
    {
        InChannels = 3,
        OutChannels = 3,
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
        BlockOutChannels = [32, 64, 64],
        LayersPerBlock = 1,
        LatentChannels = latentChannels,
        NormNumGroups = 8,
        SampleSize = [BaseModels.Size],
        ScalingFactor = 1.0,
    };

    /// <summary>Trains a VAE and writes it as a diffusers <c>vae/</c> folder (atomically).</summary>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="IOException">The output folder exists and is not empty, without <see cref="VaeTrainingOptions.Overwrite"/>.</exception>
    public static VaeTrainingResult Train(VaeTrainingOptions options, Action<string>? log = null)
    {
        log ??= Console.WriteLine;
        Validate(options);
        var output = Path.GetFullPath(options.Output);
        StagedFolder.CheckTarget(output, options.Overwrite);
        var device = options.Device ?? Runtime.TorchRuntime.DefaultDevice;
        manual_seed(options.Seed);
        var config = Config(options.LatentChannels);
        AutoencoderKL vae;
        using (ParameterFactory.Scope(device, ScalarType.Float32, initialize: true)) vae = new AutoencoderKL(config);
        try
        {
            vae.train();
            var parameters = vae.parameters().ToList();
            foreach (var p in parameters) p.requires_grad_(true);
            using var weights = new TrainableWeights(parameters, ema: false);
            using var optimizer = new Customization.AdamW([weights.Master], weightDecay: 0);
            var render = new RenderSettings { Height = BaseModels.Size, Width = BaseModels.Size };
            var random = new Random(options.Seed);
            double budget = options.Steps is null ? (options.Minutes ?? 2) * 60 : double.PositiveInfinity;
            log($"vae: {parameters.Sum(p => p.numel()):N0} parameters on {device}; {options.Clips} clips ({options.Clips * BaseModels.Frames} frames) per step; " +
                (options.Steps is { } n ? $"{n} steps" : $"{budget / 60:0.##} minutes"));

            var clock = Stopwatch.StartNew();
            using var lossSum = zeros(1, ScalarType.Float32, device);
            int step = 0, window = 0;
            double finalLoss = double.NaN;
            while (options.Steps is { } limit ? step < limit : clock.Elapsed.TotalSeconds < budget)
            {
                double progress = options.Steps is { } s ? step / (double)s : clock.Elapsed.TotalSeconds / budget;
                double lr = BaseModelTraining.LearningRate(options.LearningRate, step, 100, progress, 0);
                using (NewDisposeScope())
                {
                    var frames = TrainingFrames(random, options.Clips, render, device);
                    using var posterior = vae.Encode(frames);
                    var decoded = vae.Decode(posterior.Sample());
                    // KL(N(μ, σ²) ‖ N(0, 1)) per latent value.
                    var kl = (posterior.Mean.square() + posterior.LogVar.exp() - 1 - posterior.LogVar).mean().mul(0.5);
                    var loss = F.mse_loss(decoded, frames) + options.KlWeight * kl;
                    loss.backward();
                    // One flat gradient: clipping stays on the device (no wait for the GPU each step).
                    var gradient = weights.TakeGradient();
                    gradient.mul_((1.0 / (linalg.vector_norm(gradient) + 1e-6)).clamp_max(1.0).nan_to_num(0));
                    optimizer.Step([gradient], lr);
                    weights.Publish();
                    lossSum.add_(loss.detach());
                }
                step++;
                window++;
                if (step % options.LogEvery == 0)
                {
                    finalLoss = lossSum.item<float>() / window;
                    log(string.Create(CultureInfo.InvariantCulture, $"step {step} loss {finalLoss:F5} lr {lr:0.##e+0} {step / clock.Elapsed.TotalSeconds:F1} steps/s"));
                    lossSum.zero_();
                    window = 0;
                }
            }
            if (window > 0) finalLoss = lossSum.item<float>() / window;
            double seconds = clock.Elapsed.TotalSeconds;
            vae.eval();
            foreach (var p in parameters) p.requires_grad_(false);

            // The diffusion models see latents of unit variance: the scaling factor is 1 / std of the posterior means,
            // measured on fresh training clips, as Stable Diffusion's 0.18215 was.
            double scaling;
            using (no_grad())
            using (NewDisposeScope())
            {
                var frames = TrainingFrames(new Random(options.Seed + 1), 64, render, device);
                using var posterior = vae.Encode(frames);
                scaling = 1.0 / posterior.Mean.std().item<float>();
            }
            var trained = config with { ScalingFactor = Math.Round(scaling, 5) };
            var reconstruction = Reconstruction(vae, options.EvalClips, options.Seed, device);
            log($"trained {step} steps in {seconds / 60:F1} min; scaling factor {trained.ScalingFactor}; reconstructions: {reconstruction.Summary()}");

            StagedFolder.Write(output, options.Overwrite, staging =>
            {
                AtomicFile.WriteAllText(Path.Combine(staging, "config.json"),
                    BaseModelFolder.ConfigJson(trained, "AutoencoderKL").ToJsonString(ConfigFile.JsonOptions));
                BaseModelFolder.SaveWeights(vae, staging, "diffusion_pytorch_model", ScalarType.Float32, BaseModelFolder.MaxShardBytes);
                File.WriteAllText(Path.Combine(staging, "README.md"), Card(options, trained, step, seconds, finalLoss, reconstruction, device));
            });
            return new VaeTrainingResult(output, step, seconds, finalLoss, trained.ScalingFactor, reconstruction);
        }
        finally { vae.Dispose(); }
    }

    /// <summary>
    /// Reconstructs <paramref name="clips"/> held-out clips (posterior means, no sampling) and compares the exact metrics'
    /// readings of each frame with those of the rendered frame.
    /// </summary>
    public static VaeReconstruction Reconstruction(AutoencoderKL vae, int clips, int seed, Device device)
    {
        var dataset = new ShapesDataset(seed + 7, BaseModels.Frames);
        var render = new RenderSettings { Height = BaseModels.Size, Width = BaseModels.Size };
        var items = dataset.Items(0, clips, DatasetSplit.HeldOut);
        int frames = 0, colour = 0, shape = 0, background = 0;
        double maxShift = 0, squaredError = 0;
        long values = 0;
        using var _ = no_grad();
        foreach (var chunk in items.Chunk(16))
        {
            using var scope = NewDisposeScope();
            var (rendered, _) = dataset.Render(chunk, render, device);
            var pixels = rendered.permute(0, 4, 1, 2, 3).to(ScalarType.Float32).div(127.5).sub(1.0);
            var decoded = vae.DecodeVideo(vae.EncodeVideo(pixels));
            var restored = decoded.add(1.0).mul(127.5).clamp(0, 255).round().to(ScalarType.Byte).permute(0, 2, 3, 4, 1).cpu();
            var original = rendered.cpu();
            squaredError += (restored.to(ScalarType.Float32) - original.to(ScalarType.Float32)).square().sum().item<float>();
            values += original.numel();
            var truth = FrameReader.ReadBatch(original);
            var readings = FrameReader.ReadBatch(restored);
            for (int c = 0; c < chunk.Length; c++)
                for (int f = 0; f < truth[c].Frames.Count; f++)
                {
                    var (t, r) = (truth[c].Frames[f], readings[c].Frames[f]);
                    frames++;
                    if (r.Colour == t.Colour) colour++;
                    if (r.Shape == t.Shape) shape++;
                    if (r.Background == t.Background) background++;
                    if (t.HasObject && r.HasObject) maxShift = Math.Max(maxShift, Math.Sqrt(Math.Pow(r.X - t.X, 2) + Math.Pow(r.Y - t.Y, 2)));
                }
        }
        double mse = squaredError / Math.Max(values, 1);
        double psnr = mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);
        return new VaeReconstruction(colour / (double)frames, shape / (double)frames, background / (double)frames, maxShift, psnr, clips);
    }

    /// <summary>
    /// Every frame of <paramref name="clips"/> random training clips (N·F, 3, H, W) in [-1, 1], each clip's object turned
    /// by a random angle and sized by a factor in [0.7, 1.3].
    /// </summary>
    private static Tensor TrainingFrames(Random random, int clips, RenderSettings render, Device device)
    {
        var dataset = new ShapesDataset(random.Next(), BaseModels.Frames);
        var specs = Enumerable.Range(0, clips).Select(i =>
        {
            var clip = dataset.Item(i).Clip;
            double angle = 360 * random.NextDouble(), size = 0.7 + 0.6 * random.NextDouble();
            var poses = clip.Trajectory.Poses.Select(p => p with { Rotation = p.Rotation + angle, Scale = p.Scale * size }).ToArray();
            return clip with { Trajectory = new Trajectory(poses) };
        }).ToArray();
        using var scope = NewDisposeScope();
        var frames = Renderer.Render(specs, render, device);
        return frames.reshape(-1, render.Height, render.Width, 3).permute(0, 3, 1, 2).to(ScalarType.Float32).div(127.5).sub(1.0)
            .contiguous().MoveToOuterDisposeScope();
    }

    private static string Card(VaeTrainingOptions o, AutoencoderKLConfig config, int steps, double seconds, double loss, VaeReconstruction r, Device device)
    {
        var card = new StringBuilder();
        card.AppendLine("# ShapesWorld VAE");
        card.AppendLine();
        card.AppendLine(CultureInfo.InvariantCulture, $"diffusers `AutoencoderKL` (block_out_channels {string.Join("/", config.BlockOutChannels)}, " +
            $"{config.LatentChannels} latent channels): 24 x 24 frames to 6 x 6 latents, applied frame by frame. Scaling factor " +
            $"{config.ScalingFactor} (1 / std of the posterior means on training frames).");
        card.AppendLine();
        card.AppendLine(CultureInfo.InvariantCulture, $"Trained {steps:N0} steps ({o.Clips} clips of 16 frames each, objects at any rotation and 0.7-1.3 x " +
            $"size) in {seconds / 60:F1} min on {device}: pixel MSE + {o.KlWeight:0.##e+0} x KL, AdamW at {o.LearningRate:0.##e+0}; final loss {loss:F5}.");
        if (o.Command is { } command) card.AppendLine().AppendLine("```bash").AppendLine(command).AppendLine("```");
        card.AppendLine();
        card.AppendLine(CultureInfo.InvariantCulture, $"Reconstructions of {r.Clips} held-out clips, read with the exact ShapesWorld metrics: {r.Summary()}.");
        return card.ToString();
    }

    private static void Validate(VaeTrainingOptions o)
    {
        var problems = new List<string>();
        if (o.Minutes is not null && o.Steps is not null) problems.Add("give --minutes or --steps, not both");
        if (o.Minutes is <= 0) problems.Add($"minutes must be positive, got {o.Minutes}");
        if (o.Steps is < 1) problems.Add($"steps must be positive, got {o.Steps}");
        if (o.Clips < 1) problems.Add($"clips per step must be positive, got {o.Clips}");
        if (o.LearningRate <= 0) problems.Add($"learning rate must be positive, got {o.LearningRate}");
        if (o.KlWeight < 0) problems.Add($"KL weight must not be negative, got {o.KlWeight}");
        if (o.LatentChannels < 1) problems.Add($"latent channels must be positive, got {o.LatentChannels}");
        if (o.EvalClips < 1) problems.Add($"evaluation clips must be positive, got {o.EvalClips}");
        if (o.LogEvery < 1) problems.Add($"log interval must be positive, got {o.LogEvery}");
        if (problems.Count > 0) throw new ArgumentException($"VAE training: {string.Join("; ", problems)}.");
    }
}
