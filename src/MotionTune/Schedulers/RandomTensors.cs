using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.Schedulers;

/// <summary>Seeded Gaussian noise, drawn the way diffusers' <c>randn_tensor</c> draws it.</summary>
public static class RandomTensors
{
    /// <summary>
    /// Standard normal noise of <paramref name="shape"/>. It is drawn on the generator's device (so a CPU generator gives
    /// the same numbers whatever <paramref name="device"/> is) and then moved to <paramref name="device"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A CUDA generator for a tensor on another device type.</exception>
    public static Tensor Randn(long[] shape, Generator? generator, ScalarType dtype, Device device)
    {
        var drawOn = generator?.device ?? device;
        if (drawOn.type != device.type && drawOn.type != DeviceType.CPU)
            throw new ArgumentException($"Cannot draw a {device} tensor from a generator on {drawOn}; use a CPU generator or one on {device}.");
        using var scope = NewDisposeScope();
        var noise = randn(shape, dtype, drawOn, generator: generator);
        return noise.to(device).MoveToOuterDisposeScope();
    }
}
