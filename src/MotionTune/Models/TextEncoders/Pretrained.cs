using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.Models.TextEncoders;

/// <summary>Loading rules shared by the encoders' <c>FromPretrained</c>.</summary>
internal static class Pretrained
{
    /// <summary>
    /// CLIP checkpoints: older transformers saved the non-persistent <c>position_ids</c> buffers; they carry nothing,
    /// so they are skipped.
    /// </summary>
    public static LoadOptions ClipLoadOptions { get; } = new()
    {
        KeyMap = key => key.EndsWith("embeddings.position_ids", StringComparison.Ordinal) ? null : key,
    };

    /// <summary>Inference mode: eval, no gradients (the encoders are frozen during customization).</summary>
    public static T Frozen<T>(this T module) where T : nn.Module
    {
        module.eval();
        foreach (var p in module.parameters()) p.requires_grad = false;
        return module;
    }
}
