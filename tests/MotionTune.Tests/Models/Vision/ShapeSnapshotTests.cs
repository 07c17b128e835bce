using MotionTune.Models.TextEncoders;
using MotionTune.Models.Vision;
using MotionTune.Runtime;
using Xunit.Abstractions;
using static MotionTune.Tests.Models.TextEncoders.ShapeSnapshotTests;

namespace MotionTune.Tests.Models.Vision;

/// <summary>The CLIP models behind the metrics, full size on the meta device: names, shapes and published parameter counts.</summary>
public sealed class ShapeSnapshotTests(ITestOutputHelper output)
{
    static ShapeSnapshotTests() => TorchRuntime.Initialize();

    /// <summary>
    /// openai/clip-vit-large-patch14 (CLIP score): text 768 wide, 12 layers, 12 heads; vision 1024 wide, 24 layers,
    /// 16 heads, 14-pixel patches of 224-pixel images; quick_gelu; joint space 768.
    /// Count: text 38,004,480 embeddings + 12·7,087,872 + 1536 = 123,060,480; vision 1024 class + 602,112 patches
    /// + 263,168 positions + 2048 + 24·12,596,224 + 2048 = 303,179,776; projections 786,432 + 589,824; logit scale 1;
    /// total 427,616,513, the published size of CLIP ViT-L/14.
    /// </summary>
    [Fact]
    public void ClipVitL14()
    {
        var config = new CLIPConfig
        {
            ProjectionDim = 768,
            TextConfig = new CLIPTextConfig { HiddenSize = 768, IntermediateSize = 3072, NumAttentionHeads = 12, NumHiddenLayers = 12, ProjectionDim = 768 },
            VisionConfig = new CLIPVisionConfig
            {
                HiddenSize = 1024, IntermediateSize = 4096, NumAttentionHeads = 16, NumHiddenLayers = 24, PatchSize = 14, ImageSize = 224, ProjectionDim = 768,
            },
        };
        using var model = Build(() => new CLIPModel(config));
        Assert.Equal(427_616_513, ShapeSnapshot.Verify(model, "clip_vit_l14", output));
    }

    /// <summary>
    /// yuvalkirstain/PickScore_v1, a fine-tune of laion/CLIP-ViT-H-14-laion2B-s32B-b79K: text 1024 wide, 24 layers,
    /// 16 heads; vision 1280 wide, 32 layers, 16 heads, 14-pixel patches of 224-pixel images; gelu; joint space 1024.
    /// Count: text 50,672,640 + 24·12,596,224 + 2048 = 352,984,064; vision 1280 + 752,640 + 328,960 + 2560
    /// + 32·19,677,440 + 2560 = 630,766,080; projections 1,310,720 + 1,048,576; logit scale 1; total 986,109,441,
    /// the published size of OpenCLIP ViT-H/14.
    /// </summary>
    [Fact]
    public void ClipVitH14OfPickScore()
    {
        var config = new CLIPConfig
        {
            ProjectionDim = 1024,
            TextConfig = new CLIPTextConfig
            {
                HiddenSize = 1024, IntermediateSize = 4096, NumAttentionHeads = 16, NumHiddenLayers = 24, HiddenAct = "gelu", ProjectionDim = 1024,
            },
            VisionConfig = new CLIPVisionConfig
            {
                HiddenSize = 1280, IntermediateSize = 5120, NumAttentionHeads = 16, NumHiddenLayers = 32, PatchSize = 14, ImageSize = 224,
                HiddenAct = "gelu", ProjectionDim = 1024,
            },
        };
        using var model = Build(() => new CLIPModel(config));
        Assert.Equal(986_109_441, ShapeSnapshot.Verify(model, "clip_vit_h14_pickscore", output));
    }
}
