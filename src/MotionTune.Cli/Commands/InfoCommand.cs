using System.CommandLine;
using MotionTune.Runtime;
using Spectre.Console;
using TorchSharp;

namespace MotionTune.Cli.Commands;

/// <summary><c>motiontune info</c>: backend, libtorch version, CUDA and devices.</summary>
public static class InfoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var command = new Command("info", "Show the libtorch backend, its version, CUDA availability and the GPUs.");
        command.SetAction(parse =>
        {
            GlobalOptions.InitializeRuntime(parse);
            var table = new Table().AddColumn("item").AddColumn("value");
            table.AddRow("MotionTune", typeof(TorchRuntime).Assembly.GetName().Version?.ToString() ?? "?");
            table.AddRow("backend", Markup.Escape(TorchRuntime.Describe()));
            table.AddRow("libtorch", Markup.Escape(TorchRuntime.LibTorchVersion));
            table.AddRow("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "?");
            table.AddRow("CPU threads", torch.get_num_threads().ToString());
            table.AddRow("CUDA available", TorchRuntime.CudaAvailable ? "yes" : "no");
            if (TorchRuntime.CudaAvailable)
            {
                table.AddRow("CUDA devices", torch.cuda.device_count().ToString());
                table.AddRow("cuDNN", torch.cuda.is_cudnn_available() ? "yes" : "no");
                // Compiles the small libtorch shim on first use (cached), so the answer is the real one.
                table.AddRow("CUDA graphs", Markup.Escape(!CudaGraph.Enabled ? "off (MOTIONTUNE_CUDA_GRAPHS=0)"
                    : CudaGraph.Available ? "yes" : $"no: {CudaGraph.UnavailableReason}"));
            }
            if (GpuInfo.DriverVersion() is { } driver) table.AddRow("NVIDIA driver", driver);
            foreach (var gpu in GpuInfo.Devices())
                table.AddRow($"GPU {gpu.Index}", Markup.Escape($"{gpu.Name}, {gpu.TotalBytes / (double)(1L << 30):F1} GiB ({gpu.UsedBytes / (double)(1L << 30):F1} GiB used)"));
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
