using System.Diagnostics;
using System.Text.Json;
using MotionTune.Bench.Cases;
using MotionTune.Customization;
using MotionTune.IO;
using MotionTune.Models.Autoencoders;
using MotionTune.Models.Layers;
using MotionTune.Models.TextEncoders;
using MotionTune.Pipelines;
using MotionTune.Presets;
using MotionTune.Runtime;
using MotionTune.Schedulers;
using static TorchSharp.torch;

namespace MotionTune.Bench;

/// <summary>
/// One whole customization of a full-size pipeline with random bf16 weights, through the same calls a user's run makes
/// (<see cref="PipelineCustomizer.Train"/>, then <see cref="VideoPipeline.Generate"/> with the LoRA gated at τ): encode the
/// reference clip with the VAE and its caption with the real-size text encoder, train a rank-4 temporal LoRA for N steps,
/// sample one 50-step video and decode it. Prints wall time per phase and the allocator's peak.
/// Usage: <c>motiontune-bench e2e [--models modelscope,cogvideox] [--steps 300] [--sample-steps 50] [--json out.json]</c>.
/// </summary>
public static class EndToEndBench
{
    /// <summary>What one run measured (seconds, GiB).</summary>
    public sealed record Result(string Model, string Shapes, int Steps, int SampleSteps, int Tau, double BuildSeconds, double EncodeSeconds,
        double TrainSeconds, double SampleSeconds, double TotalSeconds, double PeakGiB, double TrainPeakGiB, double SamplePeakGiB,
        double ResidentGiB, float FirstLoss, float LastLoss, double SecondSampleSeconds, double SecondSamplePeakGiB);

    /// <summary>Runs the benchmark.</summary>
    public static int Run(string[] args)
    {
        string[] models = ["modelscope", "cogvideox"];
        int steps = 300, sampleSteps = 50;
        string? json = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--models": models = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--steps": steps = BenchArgs.Positive("--steps", Value()); break;
                case "--sample-steps": sampleSteps = BenchArgs.Positive("--sample-steps", Value()); break;
                case "--json": json = Value(); break;
                default: throw new ArgumentException($"e2e: unknown option '{args[i]}'.");
            }
        }
        TorchRuntime.Initialize();
        if (!TorchRuntime.CudaAvailable) { Console.Error.WriteLine("e2e needs a CUDA device"); return 2; }
        CudnnSettings.SetBenchmark(true);
        var results = new List<Result>();
        foreach (var name in models)
        {
            Func<Result> run = name switch
            {
                "modelscope" => () => RunOne("ModelScope (UNet3D + SD VAE + OpenCLIP-H text)", "16 x 256 x 256", BuildModelScope, steps, sampleSteps),
                "cogvideox" => () => RunOne("CogVideoX-2b (+ its VAE + T5-XXL)", "17 x 480 x 480", BuildCogVideoX, steps, sampleSteps),
                _ => throw new ArgumentException($"--models: unknown model '{name}' (modelscope, cogvideox)."),
            };
            Result result;
            try { result = run(); }
            catch (Exception e) when (e is not ArgumentException)
            {
                // One model's failure (e.g. out of memory) should not hide the others' figures.
                Console.Error.WriteLine($"{name}: failed: {e}");
                continue;
            }
            results.Add(result);
            Console.WriteLine($"{result.Model}, {result.Shapes}: {steps} LoRA steps at t >= {result.Tau} in {result.TrainSeconds:F1} s " +
                $"({result.TrainSeconds / steps * 1e3:F0} ms/step), {sampleSteps}-step CFG sample + decode in {result.SampleSeconds:F1} s; " +
                $"encode {result.EncodeSeconds:F1} s; customization total {result.TotalSeconds:F1} s ({result.TotalSeconds / 60:F2} min); " +
                $"peak allocated {result.PeakGiB:F2} GiB (training {result.TrainPeakGiB:F2}, first sample {result.SamplePeakGiB:F2}, weights {result.ResidentGiB:F2}); " +
                $"a second sample: {result.SecondSampleSeconds:F1} s, peak {result.SecondSamplePeakGiB:F2} GiB; loss {result.FirstLoss:F3} -> {result.LastLoss:F3}; build {result.BuildSeconds:F1} s");
        }
        if (json is not null)
        {
            var document = new { device = GpuInfo.Devices().FirstOrDefault()?.Name, libtorch = TorchRuntime.LibTorchVersion, date = DateTime.UtcNow.ToString("u"), results };
            AtomicFile.WriteAllText(json, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    private static Result RunOne(string label, string shapes, Func<(VideoPipeline Pipeline, int Frames, int Side)> build, int steps, int sampleSteps)
    {
        Console.WriteLine($"{label}: building with random weights");
        // The same weights, clip and LoRA start in every process, so runs with and without a switch compare.
        manual_seed(0);
        cuda.manual_seed_all(0);
        var clock = Stopwatch.StartNew();
        var (pipeline, frames, side) = build();
        using var _ = pipeline;
        cuda.synchronize();
        double buildSeconds = clock.Elapsed.TotalSeconds;
        double residentGiB = CudaMemory.AllocatedBytes() / (double)(1L << 30); // all weights of the pipeline

        using var reference = randint(0, 256, [frames, side, side, 3], ScalarType.Byte);
        var options = CustomizationOptions.ForArchitecture(pipeline.Architecture) with { Steps = steps, CheckpointEvery = 0, LearningRate = 1e-4 };
        CudaMemory.ResetPeak();
        var total = Stopwatch.StartNew();
        var encode = Stopwatch.StartNew();
        // PipelineCustomizer.Train encodes the clip and caption itself; time that part separately once, the same calls.
        var example = PipelineCustomizer.Example(pipeline, reference, "a red car driving along a winding road");
        cuda.synchronize();
        double encodeSeconds = encode.Elapsed.TotalSeconds;
        example.Latents.Dispose();
        example.Condition.HiddenStates.Dispose();
        double encodePeak = PeakGiB();

        CudaMemory.ResetPeak();
        var train = Stopwatch.StartNew();
        var trained = PipelineCustomizer.Train(pipeline, reference, "a red car driving along a winding road", options,
            p => { if (p.Step % 50 == 0) Console.WriteLine($"  step {p.Step}/{p.Steps} loss {p.Loss:F4} {p.StepsPerSecond:F2} steps/s"); });
        cuda.synchronize();
        double trainSeconds = train.Elapsed.TotalSeconds;
        using var customization = trained.Customization;
        double trainPeak = PeakGiB();

        CudaMemory.ResetPeak();
        var sample = Stopwatch.StartNew();
        var generation = new GenerationOptions { Steps = sampleSteps, Frames = frames, Height = side, Width = side };
        Generate();
        double sampleSeconds = sample.Elapsed.TotalSeconds; // Generate returns CPU frames: synchronised
        double totalSeconds = total.Elapsed.TotalSeconds - encodeSeconds; // the separate encode above is not part of a run
        double firstSamplePeak = PeakGiB();

        // The first sample's peak includes cuDNN's autotuning of new convolution shapes (cudnn.benchmark tries algorithms
        // with large workspaces); a second sample shows what sampling itself holds.
        CudaMemory.ResetPeak();
        var again = Stopwatch.StartNew();
        Generate();
        double secondSampleSeconds = again.Elapsed.TotalSeconds;
        double samplePeak = PeakGiB();
        var losses = trained.Result.Losses;
        foreach (var decision in (pipeline.Denoiser as CudaGraphDenoiser)?.Decisions ?? [])
            Console.WriteLine($"  sampling CUDA graph, {decision}");
        return new Result(label, shapes, steps, sampleSteps, options.Tau, buildSeconds, encodeSeconds, trainSeconds, sampleSeconds, totalSeconds,
            Math.Max(encodePeak, Math.Max(trainPeak, firstSamplePeak)), trainPeak, firstSamplePeak, residentGiB, losses.Take(10).Average(),
            losses.TakeLast(10).Average(), secondSampleSeconds, samplePeak);

        void Generate() => pipeline.Generate("a blue bus driving along a winding road", generation, customization, options.Tau).Dispose();
    }

    private static double PeakGiB() => CudaMemory.AllocatedBytes(peak: true) / (double)(1L << 30);

    private static (VideoPipeline, int, int) BuildModelScope()
    {
        var unet = new ModelScopeCase().Build(CUDA, ScalarType.BFloat16);
        AutoencoderKL vae;
        // The pipeline runs the SD VAE in fp32 (it overflows in half precision).
        using (ParameterFactory.Scope(CUDA, ScalarType.Float32, initialize: true))
            vae = new AutoencoderKL(ConfigFile.Load<AutoencoderKLConfig>(ModelPresets.PathOf(ModelPresets.StableDiffusionVae)));
        CLIPTextModel text;
        using (ParameterFactory.Scope(CUDA, ScalarType.BFloat16, initialize: true))
            text = new CLIPTextModel(ConfigFile.Load<CLIPTextConfig>(ModelPresets.PathOf(ModelPresets.OpenClipHText)));
        var scheduler = DdimScheduler.FromPretrained(ModelPresets.PathOf(ModelPresets.ModelScopeScheduler));
        var encoder = new HashedIdsPromptEncoder(77, 49408, ids => text.forward(ids).LastHiddenState, text);
        var pipeline = VideoPipeline.Assemble("modelscope-random", encoder, new FrameVae(vae), unet, scheduler,
            new PipelineDefaults { Frames = 16, Height = 256, Width = 256, Steps = 50, GuidanceScale = 9.0 });
        return (pipeline, 16, 256);
    }

    private static (VideoPipeline, int, int) BuildCogVideoX()
    {
        var transformer = new CogVideoXCase().Build(CUDA, ScalarType.BFloat16);
        AutoencoderKLCogVideoX vae;
        T5EncoderModel text;
        using (ParameterFactory.Scope(CUDA, ScalarType.BFloat16, initialize: true))
        {
            vae = new AutoencoderKLCogVideoX(ConfigFile.Load<AutoencoderKLCogVideoXConfig>(ModelPresets.PathOf(ModelPresets.CogVideoX2bVae)));
            text = new T5EncoderModel(ConfigFile.Load<T5Config>(ModelPresets.PathOf(ModelPresets.T5XxlEncoder)));
        }
        var scheduler = DdimScheduler.FromPretrained(ModelPresets.PathOf(ModelPresets.CogVideoX2bScheduler));
        var encoder = new HashedIdsPromptEncoder(226, 32128, ids => text.forward(ids), text);
        var pipeline = VideoPipeline.Assemble("cogvideox-2b-random", encoder, new CogVideoXVae(vae), transformer, scheduler,
            new PipelineDefaults { Frames = 17, Height = 480, Width = 480, Steps = 50, GuidanceScale = 6.0 });
        return (pipeline, 17, 480);
    }

    /// <summary>
    /// The real-size text encoder on token ids derived from the prompt's hash (no tokenizer files ship with random
    /// weights; tokenizing costs microseconds either way).
    /// </summary>
    private sealed class HashedIdsPromptEncoder(int length, int vocab, Func<Tensor, Tensor> encode, nn.Module model) : IPromptEncoder
    {
        public int MaxLength => length;

        public TextCondition Encode(IReadOnlyList<string> prompts)
        {
            using var scope = NewDisposeScope();
            using var __ = no_grad();
            var rows = prompts.Select(p => randint(0, vocab, [length], ScalarType.Int64, generator: new Generator((ulong)(uint)p.GetHashCode()))).ToArray();
            var ids = stack(rows).to(CUDA);
            return new TextCondition(encode(ids).MoveToOuterDisposeScope());
        }

        public void Dispose() => model.Dispose();
    }
}
