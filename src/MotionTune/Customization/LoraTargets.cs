using System.Text.RegularExpressions;

namespace MotionTune.Customization;

/// <summary>The three supported architectures, as far as LoRA targeting is concerned.</summary>
public enum Architecture
{
    /// <summary>ModelScope text-to-video (UNet3DConditionModel).</summary>
    ModelScope,
    /// <summary>Latte (LatteTransformer3DModel).</summary>
    Latte,
    /// <summary>CogVideoX (CogVideoXTransformer3DModel).</summary>
    CogVideoX,
}

/// <summary>
/// Which <c>Linear</c> layers a customization trains, as a regular expression over module names (full match).
/// Presets follow the paper: the temporal attention of ModelScope (<c>transformer_in</c> and every
/// <c>temp_attentions</c>, both attention layers) and Latte (<c>temporal_transformer_blocks</c>), and for CogVideoX,
/// whose attention is 3D, every block's <c>attn1</c>.
/// </summary>
public sealed record LoraTargets(string Name, Regex Pattern)
{
    /// <summary>Preset names: <c>temporal-qkvo</c>, <c>temporal-vo</c>.</summary>
    public static readonly IReadOnlyList<string> PresetNames = ["temporal-qkvo", "temporal-vo"];

    /// <summary>A preset for an architecture.</summary>
    /// <exception cref="ArgumentException">Unknown preset.</exception>
    public static LoraTargets Preset(Architecture architecture, string preset)
    {
        var projections = preset switch
        {
            "temporal-qkvo" => @"(to_q|to_k|to_v|to_out\.0)",
            "temporal-vo" => @"(to_v|to_out\.0)",
            _ => throw new ArgumentException($"Unknown LoRA target preset '{preset}' (known: {string.Join(", ", PresetNames)}; or give a regular expression)."),
        };
        var scope = architecture switch
        {
            Architecture.ModelScope => @"(transformer_in|.*\.temp_attentions\.\d+)\.transformer_blocks\.\d+\.attn[12]",
            Architecture.Latte => @"temporal_transformer_blocks\.\d+\.attn[12]",
            Architecture.CogVideoX => @"transformer_blocks\.\d+\.attn1",
            _ => throw new ArgumentOutOfRangeException(nameof(architecture)),
        };
        return new LoraTargets(preset, new Regex($"^{scope}\\.{projections}$", RegexOptions.CultureInvariant));
    }

    /// <summary>A preset name, or else a regular expression matched against whole module names.</summary>
    public static LoraTargets Parse(Architecture architecture, string presetOrPattern)
    {
        if (PresetNames.Contains(presetOrPattern)) return Preset(architecture, presetOrPattern);
        try
        {
            return new LoraTargets(presetOrPattern, new Regex($"^(?:{presetOrPattern})$", RegexOptions.CultureInvariant));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"LoRA targets: '{presetOrPattern}' is neither a preset ({string.Join(", ", PresetNames)}) nor a valid regular expression: {e.Message}", e);
        }
    }

    /// <summary>True when the module named <paramref name="moduleName"/> is targeted.</summary>
    public bool Matches(string moduleName) => Pattern.IsMatch(moduleName);
}
