using MotionTune.IO;
using MotionTune.Models.Layers;
using MotionTune.Presets;
using MotionTune.Models.TextEncoders;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MotionTune.Tests.Models.TextEncoders;

/// <summary>Full-size text encoders built on the meta device: parameter names, shapes and the published parameter counts.</summary>
public sealed class ShapeSnapshotTests(ITestOutputHelper output)
{
    static ShapeSnapshotTests() => TorchRuntime.Initialize();

    /// <summary>
    /// The OpenCLIP ViT-H text tower as ModelScope's text-to-video-ms-1.7b ships it (text_encoder/: transformers
    /// CLIPTextModel, hidden 1024, 16 heads, 23 layers — OpenCLIP's 24 minus the last, which SD 2 style models skip —
    /// intermediate 4096, gelu, vocab 49408, 77 positions).
    /// Count: embeddings 49408·1024 + 77·1024 = 50,672,640; each layer 4·(1024² + 1024) + 2·2·1024
    /// + (1024·4096 + 4096 + 4096·1024 + 1024) = 12,596,224, ×23 = 289,713,152; final norm 2048;
    /// total 340,387,840 (681 MB in fp16, the size of that checkpoint's model.safetensors).
    /// </summary>
    [Fact]
    public void OpenClipHTextEncoderOfModelScope()
    {
        var config = ConfigFile.Load<CLIPTextConfig>(ModelPresets.PathOf(ModelPresets.OpenClipHText), warn: w => Assert.Fail(w));
        Assert.Equal((1024, 23, "gelu"), (config.HiddenSize, config.NumHiddenLayers, config.HiddenAct));
        using var model = Build(() => new CLIPTextModel(config));
        Assert.Equal(340_387_840, ShapeSnapshot.Verify(model, "openclip_h_text_modelscope", output));
    }

    /// <summary>
    /// T5 v1.1 XXL encoder (google/t5-v1_1-xxl, the text encoder of Latte and CogVideoX): d_model 4096, 24 blocks,
    /// 64 heads of 64, d_ff 10240 gated-gelu, vocab 32128.
    /// Count: shared 32128·4096 = 131,596,288; each block q/k/v/o 4·4096·4096 + wi_0/wi_1/wo 3·4096·10240
    /// + 2 norms 2·4096 = 192,946,176, ×24 = 4,630,708,224; relative bias 32·64 = 2048; final norm 4096;
    /// total 4,762,310,656 (CogVideoX's text_encoder index.json: total_size 9,524,621,312 bytes in bf16).
    /// </summary>
    [Fact]
    public void T5V11XxlEncoder()
    {
        var config = ConfigFile.Load<T5Config>(ModelPresets.PathOf(ModelPresets.T5XxlEncoder), warn: w => Assert.Fail(w));
        using var model = Build(() => new T5EncoderModel(config));
        Assert.Equal(4_762_310_656, ShapeSnapshot.Verify(model, "t5_v1_1_xxl_encoder", output));
    }

    internal static T Build<T>(Func<T> create)
    {
        using (ParameterFactory.Scope(META)) return create();
    }
}
