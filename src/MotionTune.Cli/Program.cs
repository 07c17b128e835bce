using System.CommandLine;
using MotionTune.Cli.Commands;

namespace MotionTune.Cli;

/// <summary>Entry point of the <c>motiontune</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    /// <summary>The command tree (public so tests can drive it).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("MotionTune: one-shot video motion customization of text-to-video diffusion models.");
        root.Options.Add(GlobalOptions.LibTorch);
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(ShapesCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(CustomizeCommand.Create());
        root.Subcommands.Add(new Command("probe", "The timestep probe: where a model decides motion versus appearance.") { ProbeRunCommand.Create(), ReportCommands.ProbeReport() });
        root.Subcommands.Add(new Command("eval", "Evaluation on TGVE-format datasets.")
        {
            EvalRunCommand.Create(), ReportCommands.EvalMerge(), ReportCommands.EvalSummarize(), ReportCommands.EvalReport(),
        });
        return root;
    }
}
