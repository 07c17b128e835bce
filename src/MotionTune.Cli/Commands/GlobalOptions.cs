using System.CommandLine;
using MotionTune.Runtime;

namespace MotionTune.Cli.Commands;

/// <summary>Options every command takes.</summary>
public static class GlobalOptions
{
    /// <summary>Which libtorch to load: a PyTorch torch/lib folder, 'auto' or 'bundled'.</summary>
    public static readonly Option<string?> LibTorch = new("--libtorch")
    {
        Description = "libtorch to use: a PyTorch install's torch/lib folder (for CUDA), 'auto' to find one next to python3, " +
                      $"or 'bundled'. Default: ${TorchRuntime.LibTorchEnvironmentVariable}, else the bundled CPU libtorch.",
        Recursive = true,
    };

    /// <summary>Initialises libtorch as the options ask.</summary>
    public static void InitializeRuntime(ParseResult parse) => TorchRuntime.Initialize(parse.GetValue(LibTorch));
}
