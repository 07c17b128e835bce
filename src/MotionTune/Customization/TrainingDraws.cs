using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>
/// The randomness of one training step, derived from (seed, step) alone: a resumed run redraws exactly what an
/// uninterrupted one drew, with no generator state to save. Everything is drawn on the CPU, so the draws are the same
/// on every device.
/// </summary>
public static class TrainingDraws
{
    /// <summary>Stream of the adapters' initialisation (steps are 1, 2, …).</summary>
    public const long InitializationStream = -1;

    /// <summary>Offset of the streams that seed each step's dropout masks (<see cref="ICustomization.ReseedDropout"/>).</summary>
    public const long DropoutStreamOffset = 1L << 40;

    /// <summary>A 64-bit seed for stream <paramref name="stream"/> of <paramref name="seed"/> (SplitMix64 of both).</summary>
    public static long DerivedSeed(long seed, long stream)
    {
        ulong z = Mix((ulong)seed) ^ (ulong)stream * 0x9E3779B97F4A7C15UL;
        // torch generators take the seed as a non-negative int64
        return (long)(Mix(z) >> 1);
    }

    /// <summary>
    /// Timesteps (int64, <paramref name="draws"/>) uniform over the integers [<paramref name="tau"/>,
    /// <paramref name="numTrainTimesteps"/>) and standard normal noise of <paramref name="latentShape"/> with the batch
    /// replaced by <paramref name="draws"/>, for 1-based <paramref name="step"/>. The timesteps stay on the CPU; the
    /// noise (float32) goes to <paramref name="device"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An empty timestep range.</exception>
    public static (Tensor Timesteps, Tensor Noise) ForStep(long seed, int step, int tau, int numTrainTimesteps, int draws,
        long[] latentShape, Device device)
    {
        if (tau < 0 || tau >= numTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(tau), tau, $"tau must lie in [0, {numTrainTimesteps - 1}].");
        using var generator = new Generator((ulong)DerivedSeed(seed, step), CPU);
        var timesteps = randint(tau, numTrainTimesteps, [draws], ScalarType.Int64, CPU, generator: generator);
        var shape = latentShape.ToArray();
        shape[0] = draws;
        using var scope = NewDisposeScope();
        var noise = randn(shape, ScalarType.Float32, CPU, generator: generator).to(device);
        return (timesteps, noise.MoveToOuterDisposeScope());
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
