using static TorchSharp.torch;

namespace MotionTune.Runtime;

/// <summary>ATen operations that TorchSharp does not bind, reached through <see cref="TorchCudaShim"/> (CUDA builds only).</summary>
public static unsafe class TorchOps
{
    /// <summary>
    /// Whether the GELU epilogue (<see cref="LinearGeluTanh"/>) may replace a projection followed by GELU(tanh) at
    /// inference on CUDA. On by default; the environment variable <c>MOTIONTUNE_GEMM_EPILOGUE=0</c> turns it off.
    /// </summary>
    public static bool GemmEpilogue { get; set; } = Environment.GetEnvironmentVariable("MOTIONTUNE_GEMM_EPILOGUE") != "0";

    /// <summary>Whether <see cref="LinearGeluTanh"/> can run on <paramref name="input"/> now.</summary>
    public static bool CanFuseGelu(Tensor input) => GemmEpilogue && input.is_cuda && !is_grad_enabled() && TorchCudaShim.Available;

    /// <summary>
    /// gelu_tanh(x Wᵀ + b) over the last dimension of <paramref name="input"/> as one GEMM whose epilogue adds the bias
    /// and applies the activation (cuBLASLt, what <c>torch._addmm_activation(b, x, Wᵀ, use_gelu=True)</c> runs): the
    /// activation is computed on the float32 accumulator, so it differs from projecting, rounding and then applying
    /// GELU by rounding only. No gradient.
    /// </summary>
    public static Tensor LinearGeluTanh(Tensor input, Tensor weight, Tensor bias)
    {
        var shape = input.shape;
        using var flat = input.reshape(-1, shape[^1]);
        IntPtr handle;
        int status = ((delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr*, int>)TorchCudaShim.Export("motiontune_linear_gelu_tanh"))(
            flat.Handle, weight.Handle, bias.Handle, &handle);
        if (status != 0) throw new InvalidOperationException($"GEMM with a GELU epilogue failed: {TorchCudaShim.LastError()}");
        using var output = Tensor.UnsafeCreateTensor(handle);
        var outShape = (long[])shape.Clone();
        outShape[^1] = weight.shape[0];
        return output.view(outShape);
    }
}
