using System.CommandLine;
using System.Diagnostics;
using MotionTune.Runtime;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Cli.Commands;

/// <summary><c>motiontune bench matmul</c>: the device's dense matrix-multiply rate.</summary>
public static class BenchCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var command = new Command("bench", "Quick device benchmarks (the full model benchmarks live in bench/).");
        var size = new Option<int?>("--size") { Description = "Matrix size N for N x N x N (default 8192 on GPU, 1024 on CPU)." };
        var dtype = new Option<string?>("--dtype") { Description = "bf16, fp16 or fp32 (default bf16 on GPU, fp32 on CPU)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var iterations = new Option<int>("--iterations") { Description = "Timed iterations.", DefaultValueFactory = _ => 20 };
        var matmul = new Command("matmul", "Time an N x N x N matrix multiply and print TFLOP/s.") { size, dtype, device, iterations };
        matmul.SetAction(parse =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device));
            var dtypeName = parse.GetValue(dtype) ?? (dev.type == DeviceType.CUDA ? "bf16" : "fp32");
            var type = dtypeName switch
            {
                "bf16" => ScalarType.BFloat16,
                "fp16" => ScalarType.Float16,
                "fp32" => ScalarType.Float32,
                var other => throw new ArgumentException($"--dtype: '{other}' is not one of bf16, fp16, fp32."),
            };
            int n = parse.GetValue(size) ?? (dev.type == DeviceType.CUDA ? 8192 : 1024);
            int iters = parse.GetValue(iterations);
            if (n <= 0 || iters <= 0) throw new ArgumentException("--size and --iterations must be positive.");
            double seconds = TimeMatmul(n, type, dev, iters);
            double tflops = 2.0 * n * n * n * iters / seconds / 1e12;
            AnsiConsole.MarkupLine($"matmul {n}x{n}x{n} {dtypeName} on {dev}: [bold]{tflops:F1} TFLOP/s[/] ({seconds / iters * 1e3:F2} ms each)");
            return 0;
        });
        command.Subcommands.Add(matmul);
        return command;
    }

    private static double TimeMatmul(int n, ScalarType type, Device device, int iterations)
    {
        using var scope = NewDisposeScope();
        var a = randn([n, n], type, device);
        var b = randn([n, n], type, device);
        for (int i = 0; i < 3; i++) torch.mm(a, b).Dispose();
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) torch.mm(a, b).Dispose();
        Synchronize(device);
        return watch.Elapsed.TotalSeconds;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
