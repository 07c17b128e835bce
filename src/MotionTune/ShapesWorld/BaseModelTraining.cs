using System.Diagnostics;
using System.Globalization;
using MotionTune.Customization;
using MotionTune.Models.Layers;
using MotionTune.Models.TextEncoders;
using MotionTune.Models.Transformers;
using MotionTune.Models.Unets;
using MotionTune.Pipelines;
using MotionTune.Schedulers;
using MotionTune.Tokenizers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MotionTune.ShapesWorld;

/// <summary>Settings of a base-model training run (<c>motiontune shapes train</c>).</summary>
public sealed record BaseTrainingOptions
{
    /// <summary>Which bundled model to train.</summary>
    public required Architecture Architecture { get; init; }
    /// <summary>The pipeline folder to write (replaced only with <see cref="Overwrite"/>).</summary>
    public required string Output { get; init; }
    /// <summary>Training time budget in minutes (setup and evaluation not included); the default when neither limit is given is 8.</summary>
    public double? Minutes { get; init; }
    /// <summary>Optimizer steps to run instead of a time budget.</summary>
    public int? Steps { get; init; }
    /// <summary>Clips per step.</summary>
    public int Batch { get; init; } = 64;
    /// <summary>Peak learning rate (default: 5e-4 for the UNet, 3e-4 for the transformers).</summary>
    public double? LearningRate { get; init; }
    /// <summary>Linear warm-up steps; afterwards the rate follows a cosine down to a tenth of the peak at the end of the budget.</summary>
    public int WarmupSteps { get; init; } = 250;
    /// <summary>AdamW's decoupled weight decay.</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Global gradient-norm clipping (0: none).</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Share of captions replaced by the empty caption, so the model also learns the unconditional side of guidance.</summary>
    public double CaptionDropout { get; init; } = 0.1;
    /// <summary>EMA decay of the weights (0: no EMA). Both the EMA and the raw weights are evaluated at the end; the better is kept.</summary>
    public double EmaDecay { get; init; } = 0.999;
    /// <summary><c>bf16</c> (working weights and activations in bfloat16, float32 master weights), <c>fp32</c>, or <c>auto</c> (bf16 on a GPU).</summary>
    public string Precision { get; init; } = "auto";
    /// <summary>Denoiser config keys to replace (<see cref="BaseModelSpec.WithDenoiserSettings"/>), for training a variant of the bundled spec.</summary>
    public IReadOnlyDictionary<string, string> DenoiserSettings { get; init; } = new Dictionary<string, string>();
    /// <summary>How the per-timestep losses are weighted (see <see cref="ShapesWorld.LossWeighting"/>).</summary>
    public LossWeighting LossWeighting { get; init; } = LossWeighting.Uniform;
    /// <summary>Where to train (default: the best available device).</summary>
    public Device? Device { get; init; }
    /// <summary>Seed of the weights, the data and the noise.</summary>
    public int Seed { get; init; }
    /// <summary>Steps between quick evaluations during training (0: only at the end).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Held-out captions per evaluation at the end (quick ones during training use a quarter, at least 8).</summary>
    public int EvalSamples { get; init; } = 128;
    /// <summary>Sampling steps of the evaluations (default: the model's).</summary>
    public int? EvalSteps { get; init; }
    /// <summary>Guidance scales tried at the end; the best becomes the folder's default.</summary>
    public IReadOnlyList<double> GuidanceCandidates { get; init; } = [3.0, 5.0, 7.5];
    /// <summary>Clips in the training pool (default: 16384 on a GPU, 256 on the CPU).</summary>
    public int? PoolClips { get; init; }
    /// <summary>Steps between refreshes of the pool, each replacing <see cref="RefreshClips"/> clips with new ones.</summary>
    public int RefreshEvery { get; init; } = 50;
    /// <summary>Clips replaced at each refresh (default: a sixty-fourth of the pool, at least one).</summary>
    public int? RefreshClips { get; init; }
    /// <summary>Steps between progress lines.</summary>
    public int LogEvery { get; init; } = 100;
    /// <summary>Replace an existing output folder.</summary>
    public bool Overwrite { get; init; }
    /// <summary>
    /// A base-model folder of the same architecture and spec to continue from: its weights start the run (the optimizer
    /// and EMA start fresh, with a new warm-up), and its recorded training adds to this run's in the card and
    /// <c>model_index.json</c>. Null: train from scratch.
    /// </summary>
    public string? InitFrom { get; init; }
    /// <summary>
    /// Standard deviation of a per-clip, per-channel constant added to the training noise ("offset noise"). An ε model
    /// with a non-zero terminal SNR can read a clip's mean colour from x_T during training, so at sampling time, from
    /// zero-mean noise, it draws every solid background near mid-gray; the offset hides that mean and makes the caption
    /// decide it. 0: plain noise.
    /// </summary>
    public double NoiseOffset { get; init; }
    /// <summary>
    /// A VAE folder (<c>motiontune shapes train-vae</c>): the denoiser learns its latents instead of pixels
    /// (<see cref="BaseModelSpec.InLatentSpace"/>), and the folder written carries it as <c>vae/</c>. A continued run
    /// takes the VAE of <see cref="InitFrom"/> instead. Null: pixel space.
    /// </summary>
    public string? Vae { get; init; }
    /// <summary>
    /// Train under the spec's betas rescaled to zero terminal SNR with v-prediction and trailing spacing instead of the
    /// spec's own schedule (for the ModelScope-style model, whose ε schedule leaves the clip faintly visible in x_T).
    /// </summary>
    public bool ZeroTerminalSnr { get; init; }
    /// <summary>The command line, for the model card.</summary>
    public string? Command { get; init; }
}

/// <summary>How a base model's training weights its per-timestep losses.</summary>
public enum LossWeighting
{
    /// <summary>Plain MSE to the scheduler's prediction target.</summary>
    Uniform,
    /// <summary>
    /// For a v-prediction model, the v errors weighted by ᾱ_t, which is the ε-prediction loss of the same model: less
    /// weight on the noisiest timesteps (coarse layout), more on the least noisy ones (fine detail). Plain MSE for ε models.
    /// </summary>
    Epsilon,
}

/// <summary>What a training run did and what it wrote.</summary>
/// <param name="Folder">The pipeline folder.</param>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="TrainingSeconds">Wall time of the training loop (without setup and evaluations).</param>
/// <param name="TotalSeconds">Wall time of the whole run.</param>
/// <param name="FinalLoss">Mean loss of the last logging window.</param>
/// <param name="Weights">The weights kept: <c>ema</c> or <c>raw</c>.</param>
/// <param name="Candidates">The end-of-training evaluations that chose the weights and guidance scale.</param>
/// <param name="Evaluation">The evaluation of the written folder (another seed than the candidates').</param>
/// <param name="SizeBytes">Bytes of the written folder.</param>
/// <param name="Prior">The training of the folder this run continued (<see cref="TrainingRecord.None"/> from scratch).</param>
/// <param name="Record">All training of the written folder: <paramref name="Prior"/> and this run.</param>
public sealed record BaseTrainingResult(string Folder, int Steps, double TrainingSeconds, double TotalSeconds, double FinalLoss, string Weights,
    IReadOnlyList<(string Weights, BaseEvaluation Evaluation)> Candidates, BaseEvaluation Evaluation, long SizeBytes,
    TrainingRecord Prior, TrainingRecord Record);

/// <summary>
/// Trains a bundled ShapesWorld base model from scratch: denoiser and CLIP text encoder together, with the plain
/// diffusion loss of the scheduler's prediction type (MSE to ε, or to v for CogVideoX), uniform timesteps, caption
/// dropout for classifier-free guidance, AdamW with warm-up and cosine decay, gradient clipping, EMA, and bf16 compute
/// over float32 master weights on a GPU. Clips are rendered on the training device into a pool that is refreshed as it
/// goes. At the end the EMA and raw weights are evaluated at a few guidance scales on held-out captions, the best is
/// written as a pipeline folder (atomically), and that folder is evaluated again with another seed for the model card.
/// </summary>
public static class BaseModelTraining
{
    /// <summary>Runs training; <paramref name="log"/> receives progress lines (default: standard output).</summary>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="IOException">The output folder exists and <see cref="BaseTrainingOptions.Overwrite"/> is off.</exception>
    public static BaseTrainingResult Run(BaseTrainingOptions options, Action<string>? log = null)
    {
        log ??= Console.WriteLine;
        Validate(options);
        var output = Path.GetFullPath(options.Output);
        StagedFolder.CheckTarget(output, options.Overwrite);

        var total = Stopwatch.StartNew();
        var device = options.Device ?? Runtime.TorchRuntime.DefaultDevice;
        // cuDNN attention's backward fails on the UNet's temporal attention here (8-wide heads over ~10^5 sequences).
        if (device.type == TorchSharp.DeviceType.CUDA && !Runtime.CudnnSettings.SetSdpCudnn(false))
            log("note: could not turn off cuDNN attention; if its backward fails, use another libtorch");
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        var dtype = options.Precision switch
        {
            "auto" => cuda ? ScalarType.BFloat16 : ScalarType.Float32,
            "bf16" => ScalarType.BFloat16,
            "fp32" => ScalarType.Float32,
            var other => throw new ArgumentException($"Precision '{other}' is not bf16, fp32 or auto."),
        };
        // The VAE comes from the folder continued, or from --vae; it is frozen and runs in float32.
        var vaeFolder = options.InitFrom is { } init && Directory.Exists(Path.Combine(init, "vae")) ? Path.Combine(init, "vae") : options.Vae;
        using var vae = vaeFolder is null ? null : Models.Autoencoders.AutoencoderKL.FromPretrained(vaeFolder, device, ScalarType.Float32);
        if (vae is not null)
        {
            vae.FramesPerSlice = int.MaxValue;
            foreach (var p in vae.parameters()) p.requires_grad_(false);
        }
        var spec = BaseModels.Spec(options.Architecture);
        if (options.ZeroTerminalSnr) spec = spec.WithZeroTerminalSnr();
        if (vae is not null) spec = spec.InLatentSpace(vae.Config);
        spec = spec.WithDenoiserSettings(options.DenoiserSettings);
        IVideoAutoencoder space = vae is null ? new PixelSpace() : new FrameVae(vae);
        double peakLr = options.LearningRate ?? (options.Architecture == Architecture.ModelScope ? 5e-4 : 3e-4);
        double budgetSeconds = options.Steps is null ? (options.Minutes ?? 8) * 60 : double.PositiveInfinity;
        var rules = spec.PromptRules;
        bool encoderSeesMask = rules.EncoderMask == TextEncoderMask.Always
            || (rules.EncoderMask == TextEncoderMask.WhenConfigSays && spec.TextConfig.UseAttentionMask == true);

        manual_seed(options.Seed);
        var tokenizerFolder = Directory.CreateTempSubdirectory("motiontune-tokenizer-").FullName;
        TextTokenizer tokenizer;
        try
        {
            ShapesTokenizer.Write(tokenizerFolder, spec.MaxLength);
            tokenizer = TextTokenizer.FromFolder(tokenizerFolder);
        }
        finally { Directory.Delete(tokenizerFolder, recursive: true); }

        nn.Module denoiser;
        CLIPTextModel text;
        // Built in the compute dtype; the float32 masters start from these (rounded) initial values.
        using (ParameterFactory.Scope(device, dtype, initialize: true))
        {
            denoiser = spec.CreateDenoiser();
            text = new CLIPTextModel(spec.TextConfig);
        }
        TrainingRecord prior = TrainingRecord.None;
        if (options.InitFrom is { } from)
        {
            prior = BaseModelFolder.LoadForContinuation(from, spec, denoiser, text);
            log(prior.Runs > 0
                ? $"continuing from {Path.GetFullPath(from)} (trained {prior.Steps:N0} steps, {prior.Minutes:F1} min)"
                : $"continuing from {Path.GetFullPath(from)} (its training is not recorded; the new folder's record counts this run only)");
        }
        else ZeroOutputLayer(denoiser);
        denoiser.train();
        text.train();
        var working = denoiser.parameters().Concat(text.parameters()).ToList();
        foreach (var p in working) p.requires_grad_(true);
        using var weights = new TrainableWeights(working, options.EmaDecay > 0);
        using var optimizer = new Customization.AdamW([weights.Master], weightDecay: options.WeightDecay);
        var model = BaseModelSpec.Wrap(denoiser, spec.SpatialCompression);
        var scheduler = DdimScheduler.Create(spec.Scheduler);
        using var alphas = tensor(scheduler.AlphasCumprod.ToArray(), ScalarType.Float64).to(scheduler.AlphasCumprodDtype).to(ScalarType.Float32, device);
        long denoiserParameters = denoiser.parameters().Sum(p => p.numel()), textParameters = text.parameters().Sum(p => p.numel());
        log($"{BaseModels.Name(options.Architecture)}: {denoiserParameters:N0} denoiser + {textParameters:N0} text-encoder parameters; " +
            $"{dtype} on {device}; batch {options.Batch}; peak lr {peakLr:0.###e+0}; " +
            (options.Steps is { } n ? $"{n} steps" : $"{budgetSeconds / 60:0.##} minutes"));

        var watch = Stopwatch.StartNew();
        var dataset = new ShapesDataset(options.Seed, spec.Defaults.Frames);
        var render = new RenderSettings { Height = spec.Defaults.Height, Width = spec.Defaults.Width };
        int poolSize = options.PoolClips ?? (cuda ? 16384 : 256);
        using var clips = new TrainingClips(dataset, render, tokenizer, spec.MaxLength, poolSize, device);
        int refreshClips = options.RefreshClips ?? Math.Max(1, poolSize / 64);
        using var empty = tokenizer.Encode([""], spec.MaxLength);
        using var emptyIds = empty.InputIds.to(device);
        using var emptyMask = empty.AttentionMask.to(device);
        log($"rendered a pool of {poolSize} clips ({spec.Defaults.Frames} x {render.Height} x {render.Width}) on {device} in {watch.Elapsed.TotalSeconds:F1} s; " +
            $"{refreshClips} new clips every {options.RefreshEvery} steps");

        // Training loop. The clock runs only while training: quick evaluations pause it.
        var trainClock = new Stopwatch();
        using var lossSum = zeros(1, ScalarType.Float32, device);
        using var normSum = zeros(1, ScalarType.Float32, device);
        using var skipped = zeros(1, ScalarType.Int64, device);
        int windowSteps = 0, step = 0;
        double finalLoss = double.NaN, windowStart = 0, warmupEnd = 0;
        long batch = options.Batch;
        trainClock.Start();
        while (true)
        {
            double elapsed = trainClock.Elapsed.TotalSeconds;
            if (options.Steps is { } limit ? step >= limit : elapsed >= budgetSeconds) break;
            double progress = options.Steps is { } s ? step / (double)s : elapsed / budgetSeconds;
            if (step == options.WarmupSteps) warmupEnd = progress;
            double lr = LearningRate(peakLr, step, options.WarmupSteps, progress, warmupEnd);

            using (NewDisposeScope())
            {
                var indices = randint(0, clips.Count, [batch], ScalarType.Int64, device);
                var (pixels, ids, mask) = clips.Batch(indices);
                // Latents as the training scripts of latent models take them: a sample of the posterior, scaled.
                var x0 = vae is null ? pixels : EncodeForTraining(vae, pixels);
                var t = randint(0, scheduler.AlphasCumprod.Count, [batch], ScalarType.Int64, device);
                var noise = randn_like(x0);
                if (options.NoiseOffset > 0) noise.add_(randn([batch, x0.shape[1], 1, 1, 1], device: device).mul_(options.NoiseOffset));
                var a = alphas.index_select(0, t).view(-1, 1, 1, 1, 1);
                var (sqrtAlpha, sqrtSigma) = (a.sqrt(), (1 - a).sqrt());
                var noisy = sqrtAlpha * x0 + sqrtSigma * noise;
                var target = scheduler.PredictionType switch
                {
                    PredictionType.Epsilon => noise,
                    PredictionType.VPrediction => sqrtAlpha * noise - sqrtSigma * x0,
                    _ => x0,
                };

                var drop = rand([batch, 1], device: device).lt(options.CaptionDropout);
                var textIds = where(drop, emptyIds.expand(batch, -1), ids);
                var textMask = where(drop, emptyMask.expand(batch, -1), mask);
                var hidden = EncodeText(text, textIds, encoderSeesMask ? textMask : null);
                // The denoiser keeps the caption's own mask on dropped rows, as the Latte rules give the negative prompt the conditional mask.
                var condition = new TextCondition(hidden, rules.MaskToDenoiser ? mask : null);
                var prediction = model.Predict(noisy.to(dtype), t, condition);
                var loss = options.LossWeighting == LossWeighting.Epsilon && scheduler.PredictionType == PredictionType.VPrediction
                    // ε̂ − ε = √ᾱ (v̂ − v), so ᾱ-weighted v errors are the ε-loss.
                    ? (prediction.to(ScalarType.Float32) - target).square().mul(a).mean()
                    : F.mse_loss(prediction.to(ScalarType.Float32), target);
                loss.backward();

                // A step whose gradient is not finite (a bf16 overflow) becomes a zero gradient instead of corrupting the
                // weights; decided on the device, so the step does not wait for the GPU.
                var gradient = weights.TakeGradient();
                var norm = linalg.vector_norm(gradient);
                var finite = norm.isfinite();
                gradient = where(finite, gradient, zeros_like(gradient));
                if (options.MaxGradNorm > 0) gradient.mul_((options.MaxGradNorm / (norm + 1e-6)).clamp_max(1.0).nan_to_num(0));
                optimizer.Step([gradient], lr);
                weights.Publish();
                weights.UpdateEma(Math.Min(options.EmaDecay, (1.0 + step) / (10.0 + step)));
                lossSum.add_(loss.detach());
                normSum.add_(where(finite, norm, zeros_like(norm)));
                skipped.add_(finite.logical_not());
            }
            step++;
            windowSteps++;

            if (step % options.RefreshEvery == 0) clips.Refresh(refreshClips);
            if (step % options.LogEvery == 0 || step == options.Steps)
            {
                double now = trainClock.Elapsed.TotalSeconds;
                finalLoss = lossSum.item<float>() / windowSteps;
                double meanNorm = normSum.item<float>() / windowSteps;
                double rate = windowSteps / Math.Max(now - windowStart, 1e-9);
                long skips = skipped.item<long>();
                string remaining = options.Steps is { } m ? $"{m - step} steps left" : $"{Math.Max(budgetSeconds - now, 0) / 60:F1} min left";
                string skipNote = skips > 0 ? $" ({skips} steps so far skipped: gradient not finite)" : "";
                log(string.Create(CultureInfo.InvariantCulture,
                    $"step {step} loss {finalLoss:F4} grad-norm {meanNorm:F2} lr {lr:0.##e+0} {rate:F1} steps/s {remaining}{skipNote}"));
                lossSum.zero_();
                normSum.zero_();
                windowSteps = 0;
                windowStart = now;
            }
            if (options.EvalEvery > 0 && step % options.EvalEvery == 0)
            {
                trainClock.Stop();
                var quick = EvaluateInMemory(weights, weights.Ema is not null, spec, denoiser, text, tokenizer, rules, space, device, dtype,
                    new BaseEvaluationOptions { Samples = Math.Max(8, options.EvalSamples / 4), Seed = options.Seed + 1000, Steps = options.EvalSteps });
                log($"eval at step {step} ({(weights.Ema is null ? "raw" : "ema")} weights, {quick.Accuracy.Clips} clips, {quick.Seconds:F0} s): {quick.Summary()}");
                trainClock.Start();
            }
        }
        trainClock.Stop();
        if (windowSteps > 0)
        {
            finalLoss = lossSum.item<float>() / windowSteps;
            log(string.Create(CultureInfo.InvariantCulture, $"step {step} loss {finalLoss:F4}"));
        }
        double trainingSeconds = trainClock.Elapsed.TotalSeconds;
        var record = prior.Then(step, options.Batch, trainingSeconds / 60);
        log($"trained {step} steps in {trainingSeconds / 60:F1} min ({step / Math.Max(trainingSeconds, 1e-9):F1} steps/s), {clips.ItemsRendered} distinct clips seen");

        // Choose weights and guidance on held-out captions (seed + 1), then write and evaluate the folder (seed + 2).
        var candidates = new List<(string Weights, BaseEvaluation Evaluation)>();
        foreach (bool ema in weights.Ema is null ? new[] { false } : [true, false])
            foreach (double guidance in options.GuidanceCandidates)
            {
                var evaluation = EvaluateInMemory(weights, ema, spec, denoiser, text, tokenizer, rules, space, device, dtype,
                    new BaseEvaluationOptions { Samples = options.EvalSamples, Seed = options.Seed + 1, GuidanceScale = guidance, Steps = options.EvalSteps });
                candidates.Add((ema ? "ema" : "raw", evaluation));
                log($"candidate {(ema ? "ema" : "raw")} weights, guidance {guidance}: {evaluation.Summary()}");
            }
        var best = candidates.OrderByDescending(c => c.Evaluation.Score).First();
        weights.Publish(best.Weights == "ema");
        var defaults = spec.Defaults with { GuidanceScale = best.Evaluation.GuidanceScale };
        log($"keeping the {best.Weights} weights with guidance {defaults.GuidanceScale}");

        BaseEvaluation final = null!;
        StagedFolder.Write(output, options.Overwrite, staging =>
        {
            denoiser.eval();
            text.eval();
            BaseModelFolder.Write(staging, spec with { Defaults = defaults }, denoiser, text, defaults, record, vae);
            if (vaeFolder is not null && File.Exists(Path.Combine(vaeFolder, "README.md")))
                File.Copy(Path.Combine(vaeFolder, "README.md"), Path.Combine(staging, "vae", "README.md"));
            using (var pipeline = VideoPipeline.FromPretrained(staging, device, dtype))
                final = BaseModelEvaluation.Evaluate(SamplingModel.Of(pipeline), new BaseEvaluationOptions { Samples = options.EvalSamples, Seed = options.Seed + 2, Steps = options.EvalSteps });
            log($"written folder, evaluated on {final.Accuracy.Clips} new held-out captions: {final.Summary()}");
            var result = new BaseTrainingResult(output, step, trainingSeconds, total.Elapsed.TotalSeconds, finalLoss, best.Weights, candidates, final,
                BaseModelFolder.SizeOnDisk(staging), prior, record);
            File.WriteAllText(Path.Combine(staging, "evaluation.json"), final.ToJson(BaseModels.Name(options.Architecture)));
            File.WriteAllText(Path.Combine(staging, "README.md"), BaseModelCard.Write(spec with { Defaults = defaults }, options, result,
                denoiserParameters, textParameters, DeviceDescription(device), peakLr, dtype, poolSize, clips.ItemsRendered));
        });
        long size = BaseModelFolder.SizeOnDisk(output);
        log($"wrote {output} ({size / 1048576.0:F1} MiB) in {total.Elapsed.TotalMinutes:F1} min in all");
        denoiser.Dispose();
        text.Dispose();
        return new BaseTrainingResult(output, step, trainingSeconds, total.Elapsed.TotalSeconds, finalLoss, best.Weights, candidates, final, size,
            prior, record);
    }

    /// <summary>
    /// The rate at <paramref name="step"/>: a linear warm-up to <paramref name="peak"/> over <paramref name="warmupSteps"/>,
    /// then a cosine from the peak down to a tenth of it over the rest of the budget: <paramref name="progress"/> is the
    /// share of the step or time budget used, <paramref name="warmupEnd"/> the share used when the warm-up ended.
    /// </summary>
    public static double LearningRate(double peak, int step, int warmupSteps, double progress, double warmupEnd)
    {
        if (step < warmupSteps) return peak * (step + 1.0) / warmupSteps;
        double rest = Math.Clamp((progress - warmupEnd) / Math.Max(1 - warmupEnd, 1e-9), 0, 1);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * rest)));
    }

    /// <summary>
    /// The text encoder's last hidden state with gradients, computed as <see cref="CLIPTextTransformer.forward"/> does it
    /// but without the pooled output, whose end-of-text lookup would wait for the GPU every step.
    /// </summary>
    internal static Tensor EncodeText(CLIPTextModel text, Tensor ids, Tensor? attentionMask)
    {
        var tower = text.text_model;
        using var scope = NewDisposeScope();
        var hidden = tower.embeddings.forward(ids);
        Tensor? mask = null;
        if (attentionMask is not null)
        {
            long n = ids.shape[1];
            var causal = ones(n, n, ScalarType.Bool, hidden.device).tril();
            var keys = attentionMask.to(ScalarType.Bool).view(attentionMask.shape[0], 1, 1, n);
            mask = causal.view(1, 1, n, n).logical_and(keys);
        }
        var states = tower.encoder.forward(hidden, mask, causal: true, keepAll: false);
        return tower.final_layer_norm.forward(states[^1]).MoveToOuterDisposeScope();
    }

    /// <summary>Pixels (B, 3, F, H, W) to scaled latents, a posterior sample per frame, without gradients.</summary>
    private static Tensor EncodeForTraining(Models.Autoencoders.AutoencoderKL vae, Tensor pixels)
    {
        using var _ = no_grad();
        return vae.EncodeVideo(pixels, sample: true);
    }

    /// <summary>
    /// Starts the denoiser's output layer at zero, as the original training code of diffusion UNets and DiTs does, so
    /// the untrained model predicts zeros instead of large random values.
    /// </summary>
    private static void ZeroOutputLayer(nn.Module denoiser)
    {
        using var _ = no_grad();
        (Tensor Weight, Tensor? Bias) layer = denoiser switch
        {
            UNet3DConditionModel unet => (unet.conv_out.weight, unet.conv_out.bias),
            LatteTransformer3DModel latte => (latte.proj_out.weight, latte.proj_out.bias),
            CogVideoXTransformer3DModel cog => (cog.proj_out.weight, cog.proj_out.bias),
            _ => throw new NotSupportedException(denoiser.GetType().Name),
        };
        layer.Weight.zero_();
        layer.Bias?.zero_();
    }

    /// <summary>Evaluates the model in memory with the EMA or raw weights, then puts the master weights back.</summary>
    private static BaseEvaluation EvaluateInMemory(TrainableWeights weights, bool ema, BaseModelSpec spec, nn.Module denoiser, CLIPTextModel text,
        TextTokenizer tokenizer, PromptEncodingRules rules, IVideoAutoencoder space, Device device, ScalarType dtype, BaseEvaluationOptions options)
    {
        var model = BaseModelSpec.Wrap(denoiser, spec.SpatialCompression);
        var modules = new nn.Module[] { denoiser, text };
        foreach (var m in modules) m.eval();
        weights.Publish(ema);
        try
        {
            // The prompt encoder wraps the training text model; it is not disposed here (that would free the model).
            var prompts = new PromptEncoder(tokenizer, text, rules, spec.MaxLength);
            var sampling = new SamplingModel(model, DdimScheduler.Create(spec.Scheduler), prompts, spec.Defaults, device, dtype, space);
            return BaseModelEvaluation.Evaluate(sampling, options);
        }
        finally
        {
            weights.Publish();
            foreach (var m in modules) m.train();
        }
    }

    private static string DeviceDescription(Device device)
    {
        if (device.type != TorchSharp.DeviceType.CUDA) return $"{device} ({Environment.ProcessorCount} cores)";
        var gpu = Runtime.GpuInfo.Devices().FirstOrDefault(g => g.Index == Math.Max(device.index, 0));
        return gpu is null ? device.ToString() : $"{device} ({gpu.Name})";
    }

    private static void Validate(BaseTrainingOptions o)
    {
        var problems = new List<string>();
        if (o.Minutes is not null && o.Steps is not null) problems.Add("give --minutes or --steps, not both");
        if (o.Minutes is <= 0) problems.Add($"minutes must be positive, got {o.Minutes}");
        if (o.Steps is < 1) problems.Add($"steps must be positive, got {o.Steps}");
        if (o.Batch < 1) problems.Add($"batch must be positive, got {o.Batch}");
        if (o.LearningRate is <= 0) problems.Add($"learning rate must be positive, got {o.LearningRate}");
        if (o.CaptionDropout is < 0 or >= 1) problems.Add($"caption dropout must be in [0, 1), got {o.CaptionDropout}");
        if (o.EmaDecay is < 0 or >= 1) problems.Add($"EMA decay must be in [0, 1), got {o.EmaDecay}");
        if (o.EvalSamples < 1) problems.Add($"evaluation samples must be positive, got {o.EvalSamples}");
        if (o.EvalSteps is < 1) problems.Add($"evaluation steps must be positive, got {o.EvalSteps}");
        if (o.EvalEvery < 0) problems.Add($"eval-every must not be negative, got {o.EvalEvery}");
        if (o.GuidanceCandidates.Count == 0) problems.Add("give at least one guidance scale to try");
        if (o.PoolClips is < 1) problems.Add($"the pool needs at least one clip, got {o.PoolClips}");
        if (o.RefreshEvery < 1 || o.LogEvery < 1) problems.Add("refresh and log intervals must be positive");
        if (o.WarmupSteps < 0) problems.Add($"warm-up steps must not be negative, got {o.WarmupSteps}");
        if (o.NoiseOffset is < 0 or >= 1) problems.Add($"noise offset must be in [0, 1), got {o.NoiseOffset}");
        if (o.InitFrom is { } from && !Directory.Exists(from)) problems.Add($"--init-from: no folder {Path.GetFullPath(from)}");
        if (o.Vae is { } vae && o.InitFrom is not null) problems.Add("--vae is for a run from scratch; a continued run keeps the VAE of --init-from");
        if (o.Vae is { } folder && !File.Exists(Path.Combine(folder, "config.json"))) problems.Add($"--vae: no VAE config at {Path.Combine(Path.GetFullPath(folder), "config.json")}");
        if (problems.Count > 0) throw new ArgumentException($"Base-model training: {string.Join("; ", problems)}.");
    }
}
