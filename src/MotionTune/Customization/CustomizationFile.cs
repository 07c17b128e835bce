using MotionTune.IO;
using static TorchSharp.torch;

namespace MotionTune.Customization;

/// <summary>Opens a saved customization of either kind.</summary>
public static class CustomizationFile
{
    /// <summary>
    /// Loads <paramref name="path"/> onto <paramref name="model"/>: a LoRA file (any tensor named <c>*.lora_*</c>) through
    /// <see cref="LoraNetwork.Load"/>, otherwise tuned weights through <see cref="FullParameterTuning.Load"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="CheckpointFormatException">The file does not fit the model.</exception>
    public static ICustomization Load(nn.Module model, string path)
    {
        bool lora;
        using (var file = SafeTensorsFile.Open(path))
            lora = file.Entries.Keys.Any(k => k.Contains(".lora_", StringComparison.Ordinal));
        return lora ? LoraNetwork.Load(model, path) : FullParameterTuning.Load(model, path);
    }
}
