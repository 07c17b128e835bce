using System.Diagnostics;
using MotionTune.Customization;
using MotionTune.Evaluation;
using MotionTune.Pipelines;
using MotionTune.Runtime;
using MotionTune.ShapesWorld;
using static TorchSharp.torch;

namespace MotionTune.Bench;

/// <summary>
/// Checks the CUDA-graph paths against the ordinary ones through the production calls, on the same weights and draws: a
/// LoRA customization of a pipeline folder (<see cref="PipelineCustomizer.Train"/>; graphed steps replay
/// <see cref="GraphedTrainingStep"/>) and a customized sample gated at τ (<see cref="VideoPipeline.Generate"/>; graphed
/// predictions replay <see cref="CudaGraphDenoiser"/>), once with graphs and once without. Prints the largest loss,
/// adapter and video differences; fails (exit 1) when the losses part by more than float rounding explains.
/// Usage: <c>motiontune-bench verify-graphs [--model models/shapesworld-modelscope] [--steps 40] [--sampling-steps 10]</c>.
/// </summary>
public static class VerifyGraphs
{
    private sealed record Outcome(IReadOnlyList<float> Losses, Tensor Adapters, Tensor Video, int Replays, double TrainSeconds, double SampleSeconds);

    /// <summary>Runs the check.</summary>
    public static int Run(string[] args)
    {
        string model = "models/shapesworld-modelscope";
        int steps = 40, samplingSteps = 10;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--model": model = Value(); break;
                case "--steps": steps = BenchArgs.Positive("--steps", Value()); break;
                case "--sampling-steps": samplingSteps = BenchArgs.Positive("--sampling-steps", Value()); break;
                default: throw new ArgumentException($"verify-graphs: unknown option '{args[i]}'.");
            }
        }
        TorchRuntime.Initialize();
        if (!TorchRuntime.CudaAvailable) { Console.Error.WriteLine("verify-graphs needs a CUDA device"); return 2; }
        if (!CudaGraph.Available) { Console.Error.WriteLine($"CUDA graphs are unavailable: {CudaGraph.UnavailableReason}"); return 2; }

        using var pipeline = VideoPipeline.FromPretrained(model, CUDA, ScalarType.Float32);
        var task = TaskSet.Create([CustomMotions.BuiltIn()[0]], 0)[0];
        using var reference = Renderer.Render(task.ReferenceClip(pipeline.Defaults.Frames),
            new RenderSettings { Height = pipeline.Defaults.Height, Width = pipeline.Defaults.Width });
        int tau = pipeline.Defaults.RecommendedTau ?? CustomizationOptions.RecommendedTau(pipeline.Architecture);

        Outcome Once(bool graphs)
        {
            CudaGraph.Enabled = graphs;
            manual_seed(7); // the same LoRA start both times
            cuda.manual_seed_all(7);
            var graphDenoiser = (CudaGraphDenoiser)pipeline.Denoiser;
            graphDenoiser.KeepSlowerGraphs = true; // check the replays even where they would not pay
            int replaysBefore = graphDenoiser.Replays;
            var settings = CustomizationOptions.ForArchitecture(pipeline.Architecture) with
            {
                Tau = tau, Steps = steps, CheckpointEvery = 0, Seed = 3, LearningRate = 1e-3,
            };
            var clock = Stopwatch.StartNew();
            var trained = PipelineCustomizer.Train(pipeline, reference, task.Caption, settings);
            cuda.synchronize();
            double train = clock.Elapsed.TotalSeconds;
            using var customization = trained.Customization;
            var adapters = cat(customization.TrainableTensors.Select(p => p.Value.detach().flatten().cpu()).ToArray()).DetachFromDisposeScope();
            clock.Restart();
            var video = pipeline.Generate(task.Prompt(EditKinds.Style), new GenerationOptions { Steps = samplingSteps, Seed = 1 }, customization, tau)
                .to(ScalarType.Float32).cpu().DetachFromDisposeScope();
            double sample = clock.Elapsed.TotalSeconds;
            return new Outcome(trained.Result.Losses, adapters, video, graphDenoiser.Replays - replaysBefore, train, sample);
        }

        var withGraphs = Once(true);
        var without = Once(false);
        CudaGraph.Enabled = true;

        double lossDiff = withGraphs.Losses.Zip(without.Losses).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1e-6, Math.Abs(p.Second)));
        double adapterDiff = (withGraphs.Adapters - without.Adapters).abs().max().item<float>();
        double adapterScale = without.Adapters.abs().max().item<float>();
        double videoDiff = (withGraphs.Video - without.Video).abs().max().item<float>();
        Console.WriteLine($"{model} (float32, tau {tau}, {steps} LoRA steps, {samplingSteps}-step customized sample):");
        Console.WriteLine($"  losses, first / last: graphs {withGraphs.Losses[0]:F6} / {withGraphs.Losses[^1]:F6}, " +
                          $"ordinary {without.Losses[0]:F6} / {without.Losses[^1]:F6}; largest relative difference {lossDiff:E2}");
        Console.WriteLine($"  adapters: largest |difference| {adapterDiff:E2} (largest |value| {adapterScale:E2})");
        Console.WriteLine($"  sampled video (0-255): largest |difference| {videoDiff:F1}; the graphed run replayed {withGraphs.Replays} predictions, " +
                          $"the ordinary one {without.Replays}");
        Console.WriteLine($"  time: training {withGraphs.TrainSeconds:F1} s vs {without.TrainSeconds:F1} s, sample {withGraphs.SampleSeconds:F1} s vs {without.SampleSeconds:F1} s " +
                          "(the graphed run includes the captures)");
        bool ok = lossDiff < 1e-3 && withGraphs.Replays > 0 && without.Replays == 0;
        Console.WriteLine(ok ? "  OK" : "  FAILED");
        return ok ? 0 : 1;
    }
}
