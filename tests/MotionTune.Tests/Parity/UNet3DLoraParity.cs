using MotionTune.Customization;
using MotionTune.Models.Unets;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Parity;

/// <summary>
/// peft's rank-4 LoRA on every temporal attention projection of the UNet: the base UNet from <c>base/</c>, the adapters
/// from the standard-key <c>lora_peft_state_dict.safetensors</c> loaded through <see cref="LoraNetwork.Load"/> (the path
/// a user's diffusers/peft LoRA takes), alpha from case.json; output to 1e-4 absolute. The adapters must be exactly
/// the ones the preset targets.
/// </summary>
[ParityKind("unet3d_condition_lora")]
public sealed class UNet3DLoraParity : IParityCheck
{
    private const double Tolerance = 1e-4;

    /// <inheritdoc />
    public void Run(FixtureCase fixture, ITestOutputHelper output)
    {
        using var scope = NewDisposeScope();
        using var model = UNet3DConditionModel.FromPretrained(fixture.PathOf("base"));
        int rank = fixture.Case.GetProperty("lora_rank").GetInt32();
        double alpha = fixture.Case.GetProperty("lora_alpha").GetDouble();
        using var lora = LoraNetwork.Load(model, fixture.PathOf("lora_peft_state_dict.safetensors"), alpha: alpha);
        Assert.Equal(rank, lora.Settings.Rank);

        var preset = LoraTargets.Preset(Architecture.ModelScope, "temporal-qkvo");
        var targeted = model.named_modules().Select(m => m.name).Where(preset.Matches).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(targeted, lora.ModuleNames);

        using var _ = no_grad();
        var actual = model.forward(fixture.Io("sample"), fixture.Io("timestep"), fixture.Io("encoder_hidden_states"));
        var expected = fixture.Io("out_with_lora");
        output.WriteLine($"{fixture.Name}: {lora.ModuleNames.Count} adapters, max abs error {ParityAssert.MaxAbsError(actual, expected):E3}");
        ParityAssert.Close(actual, expected, Tolerance, what: fixture.Name);

        lora.Active = false;
        var baseline = model.forward(fixture.Io("sample"), fixture.Io("timestep"), fixture.Io("encoder_hidden_states"));
        Assert.True(ParityAssert.MaxAbsError(baseline, expected) > 10 * Tolerance, "the LoRA must change the output measurably");
    }
}
