using MotionTune.Models.Layers;
using MotionTune.Runtime.Kernels;

namespace MotionTune.Bench;

/// <summary>
/// The speed switches a run can turn off to measure what each one brings (see bench/README.md). Each also has an
/// environment variable, read at start-up: <c>MOTIONTUNE_FUSED_QKV</c>, <c>MOTIONTUNE_TEMPORAL_CONV2D</c>,
/// <c>MOTIONTUNE_FUSED_KERNELS</c>, <c>MOTIONTUNE_JOINT_LORA</c>, <c>MOTIONTUNE_SHORT_ATTENTION</c>, <c>MOTIONTUNE_CUDA_GRAPHS</c>, <c>MOTIONTUNE_CHANNELS_LAST</c>, <c>MOTIONTUNE_GEMM_EPILOGUE</c> (0 = off).
/// </summary>
public static class Toggles
{
    private static readonly (string Name, Func<bool> Get, Action<bool> Set)[] Switches =
    [
        ("fused-qkv", () => Attention.FuseQkvProjections, v => Attention.FuseQkvProjections = v),
        ("temporal-conv2d", () => Conv3d.TemporalKernelsAsConv2d, v => Conv3d.TemporalKernelsAsConv2d = v),
        ("fused-kernels", () => FusedOps.Enabled, v => FusedOps.Enabled = v),
        ("joint-lora", () => Attention.JointLowRankAdapters, v => Attention.JointLowRankAdapters = v),
        ("short-attention", () => Attention.ShortSequenceAttention, v => Attention.ShortSequenceAttention = v),
        ("cudnn-attention", () => MotionTune.Runtime.CudnnSettings.SdpCudnn, v => MotionTune.Runtime.CudnnSettings.SetSdpCudnn(v)),
        ("cuda-graphs", () => MotionTune.Runtime.CudaGraph.Enabled, v => MotionTune.Runtime.CudaGraph.Enabled = v),
        ("gemm-epilogue", () => MotionTune.Runtime.TorchOps.GemmEpilogue, v => MotionTune.Runtime.TorchOps.GemmEpilogue = v),
        ("channels-last", () => MotionTune.Models.Unets.UNet3DConditionModel.UseChannelsLast, v => MotionTune.Models.Unets.UNet3DConditionModel.UseChannelsLast = v),
    ];

    /// <summary>The switch names.</summary>
    public static IEnumerable<string> Names => Switches.Select(s => s.Name);

    /// <summary>The current state, e.g. <c>fused-qkv=1 temporal-conv2d=1 fused-kernels=0</c>.</summary>
    public static string Describe() => string.Join(' ', Switches.Select(s => $"{s.Name}={(s.Get() ? 1 : 0)}"));

    /// <summary>Parses <c>name=0|1,...</c> (or <c>all=0|1</c>) into switch settings.</summary>
    /// <exception cref="ArgumentException">An unknown name or a value other than 0/1.</exception>
    public static IReadOnlyList<(string Name, bool On)> Parse(string spec)
    {
        var settings = new List<(string, bool)>();
        foreach (var item in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[1] is not ("0" or "1"))
                throw new ArgumentException($"--toggle: '{item}' is not name=0 or name=1 (names: all, {string.Join(", ", Names)}).");
            bool on = parts[1] == "1";
            if (parts[0] == "all") settings.AddRange(Names.Select(n => (n, on)));
            else if (Switches.Any(s => s.Name == parts[0])) settings.Add((parts[0], on));
            else throw new ArgumentException($"--toggle: unknown switch '{parts[0]}' (names: all, {string.Join(", ", Names)}).");
        }
        return settings;
    }

    /// <summary>Applies settings until the result is disposed, which restores the previous state.</summary>
    public static IDisposable Apply(IEnumerable<(string Name, bool On)> settings)
    {
        var previous = Switches.Select(s => (s.Name, s.Get())).ToList();
        foreach (var (name, on) in settings) Switches.First(s => s.Name == name).Set(on);
        return new Restore(previous);
    }

    /// <summary>
    /// The variants an A/B run compares: everything on, each switch off alone, everything off (each a spec for
    /// <see cref="Parse"/>, the first being the baseline).
    /// </summary>
    public static IReadOnlyList<string> AbVariants() =>
        ["all=1", .. Names.Select(n => $"{n}=0"), "all=0"];

    private sealed class Restore(List<(string Name, bool On)> previous) : IDisposable
    {
        public void Dispose()
        {
            foreach (var (name, on) in previous) Switches.First(s => s.Name == name).Set(on);
        }
    }
}
