using System.Text.Json;
using MotionTune.Bench.Cases;
using MotionTune.IO;
using MotionTune.Runtime;
using Spectre.Console;
using TorchSharp;

namespace MotionTune.Bench;

/// <summary>
/// GPU benchmarks of the full-size denoisers with random bf16 weights (see bench/README.md).
/// usage: motiontune-bench [--models modelscope,latte,cogvideox] [--parts sample,graph,train,graph-train,extras] [--runs 10] [--warmup 3] [--json results.json] [--libtorch DIR]
/// [--toggle fused-qkv=0,temporal-conv2d=0,fused-kernels=0] [--ab]; motiontune-bench verify-kernels [--runs 20]; motiontune-bench verify-graphs [--model FOLDER];
/// motiontune-bench customization ...; motiontune-bench shapes [--arch ...] [--batch 128]; motiontune-bench overhead [--models ...]
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, Func<BenchCase>> Cases = new()
    {
        ["modelscope"] = () => new ModelScopeCase(),
        ["latte"] = () => new LatteCase(),
        ["cogvideox"] = () => new CogVideoXCase(),
        ["cogvideox5b"] = () => new CogVideoXCase(MotionTune.Presets.ModelPresets.CogVideoX5bTransformer),
    };

    /// <summary>Entry point: a bad option prints its message and exits with 2.</summary>
    public static int Main(string[] args)
    {
        try { return Run(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"motiontune-bench: {e.Message}");
            return 2;
        }
    }

    private static int Run(string[] args)
    {
        if (args is ["customization", .. var rest]) return CustomizationBench.Run(rest);
        if (args is ["gemm", ..]) return GemmBench.Run(args[1..]);
        if (args is ["e2e", .. var e2eArgs]) return EndToEndBench.Run(e2eArgs);
        if (args is ["shapes", .. var shapesArgs]) return ShapesBench.Run(shapesArgs);
        if (args is ["overhead", .. var overheadArgs]) return OverheadBench.Run(overheadArgs, Cases);
        if (args is ["verify-kernels", .. var verifyArgs]) return VerifyKernels.Run(verifyArgs);
        if (args is ["verify-graphs", .. var graphArgs]) return VerifyGraphs.Run(graphArgs);
        var options = Options.Parse(args);
        TorchRuntime.Initialize(options.LibTorch);
        var device = TorchRuntime.ParseDevice(options.Device);
        if (device.type == DeviceType.CUDA) CudnnSettings.SetBenchmark(true);
        using var toggles = Toggles.Apply(options.Toggle is null ? [] : Toggles.Parse(options.Toggle));
        AnsiConsole.MarkupLine($"[bold]MotionTune benchmark[/] on {Markup.Escape(Describe(device))}; switches: {Toggles.Describe()}");
        if (options.Ab) return RunAb(options, device);

        var results = new List<CaseResult>();
        foreach (var name in options.Models)
        {
            if (!Cases.TryGetValue(name, out var make))
                throw new ArgumentException($"--models: unknown model '{name}' (known: {string.Join(", ", Cases.Keys)}).");
            var result = make().Run(device, options.Warmup, options.Runs, m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]"), options.Parts);
            results.Add(result);
            TorchSharp.torch.cuda.synchronize();
        }

        var table = new Table().AddColumns("model", "params", "CFG step (batch 2)", "TFLOP/s", "% of 790", "CFG step, CUDA graph", "train step (batch 1)", "peak (train)", "train step, CUDA graph", "memory method");
        foreach (var r in results)
            table.AddRow(r.Model, $"{r.Parameters / 1e9:F2} B", $"{r.SamplingStepMs:F1} ms", $"{r.SamplingTflops:F0}",
                $"{r.SamplingTflops / 790 * 100:F0} %", Markup.Escape(GraphCell(r)), $"{r.TrainingStepMs:F1} ms", $"{r.TrainingPeakGiB:F2} GiB",
                r.TrainingGraphMs > 0 ? $"{r.TrainingGraphMs:F1} ms ({r.TrainingGraphPeakGiB:F2} GiB)" : "-", Markup.Escape(r.MemoryMethod));
        AnsiConsole.Write(table);
        foreach (var r in results)
            foreach (var (name, value) in r.Extra)
                AnsiConsole.MarkupLine($"{Markup.Escape(r.Model)}: {Markup.Escape(name)} = {value:F2}");

        if (options.Json is { } json)
        {
            var document = new { device = Describe(device), libtorch = TorchRuntime.LibTorchVersion, switches = Toggles.Describe(), date = DateTime.UtcNow.ToString("u"), results };
            AtomicFile.WriteAllText(json, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLine($"wrote {Markup.Escape(json)}");
        }
        return 0;
    }

    /// <summary>--ab: each model under every switch variant (all on, each off alone, all off); a table and optional JSON.</summary>
    private static int RunAb(Options options, torch.Device device)
    {
        var variants = Toggles.AbVariants();
        bool train = options.Parts is null || options.Parts.Contains("train");
        var results = new List<AbResult>();
        foreach (var name in options.Models)
        {
            if (!Cases.TryGetValue(name, out var make))
                throw new ArgumentException($"--models: unknown model '{name}' (known: {string.Join(", ", Cases.Keys)}).");
            results.AddRange(make().RunAb(device, options.Warmup, options.Runs, variants, train, m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]")));
            torch.cuda.synchronize();
        }
        var table = new Table().AddColumns("model", "variant", "CFG step", "vs all on", "train step", "vs all on", "max |Δ output| vs all on");
        foreach (var r in results)
        {
            var first = results.First(x => x.Model == r.Model);
            table.AddRow(Markup.Escape(r.Model), Markup.Escape(r.Variant), $"{r.SamplingStepMs:F1} ms", $"{r.SamplingStepMs / first.SamplingStepMs:F3}",
                train ? $"{r.TrainingStepMs:F1} ms" : "-", train ? $"{r.TrainingStepMs / first.TrainingStepMs:F3}" : "-", $"{r.MaxAbsDifference:E2}");
        }
        AnsiConsole.Write(table);
        if (options.Json is { } json)
        {
            var document = new { device = Describe(device), libtorch = TorchRuntime.LibTorchVersion, date = DateTime.UtcNow.ToString("u"), ab = results };
            AtomicFile.WriteAllText(json, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLine($"wrote {Markup.Escape(json)}");
        }
        return 0;
    }

    private static string GraphCell(CaseResult r) =>
        r.SamplingGraphNote ?? (r.SamplingGraphMs > 0 ? $"{r.SamplingGraphMs:F1} ms (max |Δ| {r.SamplingGraphMaxDifference:E1})" : "-");

    private static string Describe(torch.Device device) =>
        device.type == DeviceType.CUDA && GpuInfo.Devices() is { Count: > 0 } gpus ? $"{gpus[0].Name}, libtorch {TorchRuntime.LibTorchVersion}" : $"{device}, libtorch {TorchRuntime.LibTorchVersion}";

    private sealed record Options(string[] Models, int Runs, int Warmup, string? Json, string? LibTorch, string Device, ISet<string>? Parts,
        string? Toggle = null, bool Ab = false)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(["modelscope", "latte", "cogvideox"], 10, 3, null, null, "auto", null);
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                o = args[i] switch
                {
                    "--models" => o with { Models = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                    "--runs" => o with { Runs = BenchArgs.Positive("--runs", Value()) },
                    "--warmup" => o with { Warmup = BenchArgs.NonNegative("--warmup", Value()) },
                    "--json" => o with { Json = Value() },
                    "--libtorch" => o with { LibTorch = Value() },
                    "--device" => o with { Device = Value() },
                    "--parts" => o with { Parts = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet() },
                    "--toggle" => o with { Toggle = Value() },
                    "--ab" => o with { Ab = true },
                    var other => throw new ArgumentException($"Unknown option {other}."),
                };
            }
            return o;
        }
    }
}
