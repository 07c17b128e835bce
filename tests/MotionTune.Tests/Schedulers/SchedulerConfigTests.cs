using MotionTune.IO;
using MotionTune.Schedulers;

namespace MotionTune.Tests.Schedulers;

public sealed class SchedulerConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-sched-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string relative, string json)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, json);
        return path;
    }

    // ModelScope's published scheduler config (damo-vilab/text-to-video-ms-1.7b), including its PNDM-only key.
    private const string ModelScopeJson = """
        {"_class_name": "DDIMScheduler", "_diffusers_version": "0.15.0.dev0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
         "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000, "prediction_type": "epsilon",
         "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}
        """;

    [Fact]
    public void LoadsFromAPipelineFolderASchedulerFolderOrTheFile()
    {
        var file = Write("pipe/scheduler/scheduler_config.json", ModelScopeJson);
        var warnings = new List<string>();
        foreach (var path in new[] { Path.Combine(_dir, "pipe"), Path.Combine(_dir, "pipe", "scheduler"), file })
        {
            var scheduler = DdimScheduler.FromPretrained(path, warnings.Add);
            Assert.IsType<DdimScheduler>(scheduler);
            Assert.False(scheduler.Config.SetAlphaToOne);
            Assert.Equal(1, scheduler.Config.StepsOffset);
            Assert.Equal("leading", scheduler.Config.TimestepSpacing); // DDIMScheduler's default: the key is absent
            Assert.Equal(scheduler.AlphasCumprod[0], scheduler.FinalAlphaCumprod);
        }
        Assert.Empty(warnings); // skip_prk_steps is known to be inert
    }

    [Fact]
    public void CogVideoXClassGetsItsOwnRecordAndDefaults()
    {
        Write("cog/scheduler_config.json", """
            {"_class_name": "CogVideoXDDIMScheduler", "prediction_type": "v_prediction", "rescale_betas_zero_snr": true,
             "timestep_spacing": "trailing"}
            """);
        var scheduler = Assert.IsType<CogVideoXDdimScheduler>(DdimScheduler.FromPretrained(Path.Combine(_dir, "cog")));
        Assert.Equal(0.00085, scheduler.Config.BetaStart);
        Assert.Equal(0.012, scheduler.Config.BetaEnd);
        Assert.Equal("scaled_linear", scheduler.Config.BetaSchedule);
        Assert.Equal(3.0, scheduler.Config.SnrShiftScale);
        Assert.Equal(PredictionType.VPrediction, scheduler.PredictionType);
        Assert.Equal(0.0, scheduler.AlphasCumprod[^1]);
    }

    [Fact]
    public void AnotherSchedulerClassIsReadAsDdimWithAWarning()
    {
        var path = Write("pndm/scheduler_config.json", """{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear"}""");
        var warnings = new List<string>();
        var scheduler = DdimScheduler.FromPretrained(path, warnings.Add);
        Assert.IsType<DdimScheduler>(scheduler);
        Assert.Contains(warnings, w => w.Contains("PNDMScheduler") && w.Contains(path));
    }

    [Theory]
    [InlineData("beta_schedule", "sigmoid", "'linear', 'scaled_linear' or 'squaredcos_cap_v2'")]
    [InlineData("prediction_type", "flow", "'epsilon', 'v_prediction' or 'sample'")]
    [InlineData("timestep_spacing", "karras", "'leading', 'trailing' or 'linspace'")]
    public void UnknownOptionValuesAreClearErrors(string key, string value, string allowed)
    {
        var path = Write($"bad_{key}/scheduler_config.json", $$"""{"_class_name": "DDIMScheduler", "{{key}}": "{{value}}"}""");
        var e = Assert.Throws<ArgumentException>(() => DdimScheduler.FromPretrained(path));
        Assert.Contains($"{key} '{value}'", e.Message);
        Assert.Contains(allowed, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingConfigAndBadJsonNameThePath()
    {
        var missing = Path.Combine(_dir, "nothing-here");
        var e = Assert.Throws<FileNotFoundException>(() => DdimScheduler.FromPretrained(missing));
        Assert.Contains(missing, e.Message);
        var broken = Write("broken/scheduler_config.json", """{"_class_name": "DDIMScheduler", "steps_offset": "one"}""");
        Assert.Contains(broken, Assert.Throws<CheckpointFormatException>(() => DdimScheduler.FromPretrained(broken)).Message);
        var trained = Write("trained/scheduler_config.json", """{"num_train_timesteps": 4, "trained_betas": [0.1, 0.2]}""");
        Assert.Contains("trained_betas has 2 values", Assert.Throws<ArgumentException>(() => DdimScheduler.FromPretrained(trained)).Message);
    }

    [Fact]
    public void SavedConfigLoadsBackWithTheSameSchedule()
    {
        var config = new CogVideoXDdimSchedulerConfig { SnrShiftScale = 1.0, TimestepSpacing = "trailing", RescaleBetasZeroSnr = true };
        var path = Path.Combine(_dir, "saved", "scheduler_config.json");
        ConfigFile.Save(config, path, config.ClassName);
        var back = DdimScheduler.FromPretrained(path, w => Assert.Fail(w));
        Assert.IsType<CogVideoXDdimScheduler>(back);
        Assert.Equal(new CogVideoXDdimScheduler(config).AlphasCumprod, back.AlphasCumprod);
    }

    [Fact]
    public void PresetSchedulersAreTheRealModelsOnes()
    {
        var modelscope = DdimScheduler.FromPretrained(Presets.ModelPresets.PathOf(Presets.ModelPresets.ModelScopeScheduler), warn: w => Assert.Fail(w));
        Assert.Equal(("epsilon", "leading", 1, false), (modelscope.Config.PredictionType, modelscope.Config.TimestepSpacing,
            modelscope.Config.StepsOffset, modelscope.Config.SetAlphaToOne));
        var cog = DdimScheduler.FromPretrained(Presets.ModelPresets.PathOf(Presets.ModelPresets.CogVideoX2bScheduler), warn: w => Assert.Fail(w));
        var config = Assert.IsType<CogVideoXDdimSchedulerConfig>(cog.Config);
        Assert.Equal(("v_prediction", "trailing", true, 3.0), (config.PredictionType, config.TimestepSpacing, config.RescaleBetasZeroSnr, config.SnrShiftScale));
    }
}
