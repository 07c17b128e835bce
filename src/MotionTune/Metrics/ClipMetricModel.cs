using MotionTune.IO;
using MotionTune.Models.Vision;
using MotionTune.Tokenizers;
using static TorchSharp.torch;

namespace MotionTune.Metrics;

/// <summary>Where a CLIP metric model is and how it runs.</summary>
public sealed record ClipMetricModelOptions
{
    /// <summary>
    /// A transformers <c>CLIPModel</c> folder: <c>config.json</c>, <c>model.safetensors</c> (or sharded), and unless
    /// <see cref="ProcessorFolder"/> is set, the tokenizer files and <c>preprocessor_config.json</c>.
    /// </summary>
    public required string Folder { get; init; }
    /// <summary>
    /// Where the tokenizer and <c>preprocessor_config.json</c> are, when not in <see cref="Folder"/> (PickScore's reference
    /// code takes them from <c>laion/CLIP-ViT-H-14-laion2B-s32B-b79K</c>).
    /// </summary>
    public string? ProcessorFolder { get; init; }
    /// <summary>Where the model runs (default CPU).</summary>
    public Device? Device { get; init; }
    /// <summary>The model's dtype: float32 (the reference's, and the only one on the CPU), or bfloat16 / float16 on a GPU.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>Frames per pass through the vision tower.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Which of transformers' image-processor backends to reproduce (transformers 5's default: torchvision).</summary>
    public ImageProcessorBackend Backend { get; init; } = ImageProcessorBackend.Torchvision;
}

/// <summary>
/// A CLIP model loaded for scoring (CLIP ViT-L/14 for text alignment and temporal consistency, PickScore's ViT-H/14):
/// its tokenizer and image processor, and unit-length embeddings of frames and texts in float32, computed as
/// transformers' <c>get_image_features</c> / <c>get_text_features</c> divided by their L2 norms.
/// </summary>
public sealed class ClipMetricModel : IDisposable
{
    /// <summary>The model.</summary>
    public CLIPModel Model { get; }
    /// <summary>The tokenizer (texts are truncated to the model's positions, not padded).</summary>
    public TextTokenizer Tokenizer { get; }
    /// <summary>The image processor.</summary>
    public CLIPImageProcessor Processor { get; }
    /// <summary>The settings it was loaded with.</summary>
    public ClipMetricModelOptions Options { get; }
    /// <summary>
    /// exp(logit_scale), from the checkpoint's stored value in float64, so that a half-precision model keeps the exact
    /// scale (bf16 would turn OpenAI's 100 into 98.9).
    /// </summary>
    public double LogitScale { get; }

    private ClipMetricModel(CLIPModel model, TextTokenizer tokenizer, CLIPImageProcessor processor, ClipMetricModelOptions options, double logitScale)
    {
        Model = model;
        Tokenizer = tokenizer;
        Processor = processor;
        Options = options;
        LogitScale = logitScale;
    }

    /// <summary>Loads a CLIPModel folder on the CPU in float32 with the default settings.</summary>
    public static ClipMetricModel FromPretrained(string folder) => Load(new ClipMetricModelOptions { Folder = folder });

    /// <summary>Loads the model <paramref name="options"/> describe.</summary>
    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">A folder lacks files (all missing ones are named).</exception>
    /// <exception cref="ArgumentException">A bad option.</exception>
    public static ClipMetricModel Load(ClipMetricModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var device = options.Device ?? CPU;
        if (options.BatchSize < 1) throw new ArgumentException($"CLIP metric model: batch size must be at least 1, not {options.BatchSize}.", nameof(options));
        if (options.DType is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"CLIP metric model: dtype {options.DType} is not float32, bfloat16 or float16.", nameof(options));
        if (options.DType != ScalarType.Float32 && device.type != TorchSharp.DeviceType.CUDA)
            throw new ArgumentException($"CLIP metric model: {options.DType} runs on a GPU only; use float32 on {device}.", nameof(options));
        var processorFolder = options.ProcessorFolder ?? options.Folder;
        CheckFiles(options.Folder, processorFolder);

        var tokenizer = TextTokenizer.FromFolder(processorFolder);
        var processor = CLIPImageProcessor.FromPretrained(processorFolder, options.Backend);
        double logitScale;
        using (var weights = WeightSource.FromFolder(options.Folder))
        using (var stored = weights.Read("logit_scale"))
            logitScale = Math.Exp(stored.to(ScalarType.Float64).item<double>());
        var model = CLIPModel.FromPretrained(options.Folder, device, options.DType);
        return new ClipMetricModel(model, tokenizer, processor, options, logitScale);
    }

    /// <summary>Names every missing piece of a metric model folder at once.</summary>
    private static void CheckFiles(string folder, string processorFolder)
    {
        const string expected = "a transformers CLIPModel folder: config.json, model.safetensors, tokenizer files (vocab.json + merges.txt, or tokenizer.json) and preprocessor_config.json";
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"CLIP metric model folder not found: {folder} (expected {expected}).");
        if (!Directory.Exists(processorFolder)) throw new DirectoryNotFoundException($"CLIP metric processor folder not found: {processorFolder} (expected the tokenizer files and preprocessor_config.json).");
        var missing = new List<string>();
        if (!File.Exists(Path.Combine(folder, "config.json"))) missing.Add($"{folder}: config.json");
        bool hasWeights = Directory.EnumerateFiles(folder, "*.safetensors").Any() || Directory.EnumerateFiles(folder, "*.safetensors.index.json").Any();
        if (!hasWeights)
            missing.Add($"{folder}: model.safetensors (or a sharded model.safetensors.index.json)" +
                        (File.Exists(Path.Combine(folder, "pytorch_model.bin")) ? "; pytorch_model.bin is not read, convert it to safetensors" : ""));
        bool hasTokenizer = File.Exists(Path.Combine(processorFolder, "tokenizer.json"))
                            || (File.Exists(Path.Combine(processorFolder, "vocab.json")) && File.Exists(Path.Combine(processorFolder, "merges.txt")));
        if (!hasTokenizer) missing.Add($"{processorFolder}: tokenizer files (vocab.json + merges.txt, or tokenizer.json)");
        if (!File.Exists(Path.Combine(processorFolder, "preprocessor_config.json"))) missing.Add($"{processorFolder}: preprocessor_config.json");
        if (missing.Count > 0)
            throw new FileNotFoundException($"{folder} is not a complete CLIP metric model ({expected}). Missing: {string.Join("; ", missing)}.");
    }

    /// <summary>
    /// Unit-length image embeddings of video frames, (F, projection_dim) float32 on the model's device: frames are
    /// preprocessed on the CPU and run through the vision tower <see cref="ClipMetricModelOptions.BatchSize"/> at a time.
    /// </summary>
    /// <param name="frames">(F, H, W, 3) uint8 RGB frames (a <c>VideoClip</c>'s), F ≥ 1.</param>
    /// <exception cref="ArgumentException">Not (F, H, W, 3) uint8, or no frames.</exception>
    public Tensor ImageEmbeddings(Tensor frames)
    {
        CheckFrames(frames, minimum: 1, "CLIP image embeddings");
        long count = frames.shape[0];
        var chunks = new List<Tensor>();
        try
        {
            using var _ = no_grad();
            for (long start = 0; start < count; start += Options.BatchSize)
            {
                using var scope = NewDisposeScope();
                var pixels = Processor.Preprocess(frames.narrow(0, start, Math.Min(Options.BatchSize, count - start)));
                var features = Model.GetImageFeatures(pixels.to(Options.DType, Model.logit_scale.device));
                chunks.Add(CLIPModel.Normalized(features.to(ScalarType.Float32)).DetachFromDisposeScope());
            }
            return cat(chunks);
        }
        finally
        {
            foreach (var chunk in chunks) chunk.Dispose();
        }
    }

    /// <summary>
    /// Unit-length text embeddings, (texts, projection_dim) float32 on the model's device. Texts are tokenized as the
    /// processor does with <c>padding=True, truncation=True, max_length=positions</c>: cut to the model's positions (77),
    /// padded to the longest, with the attention mask.
    /// </summary>
    /// <exception cref="ArgumentException">No texts, or a null one.</exception>
    public Tensor TextEmbeddings(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0 || texts.Any(t => t is null)) throw new ArgumentException("CLIP text embeddings: give one or more non-null texts.", nameof(texts));
        int positions = Model.Config.ResolvedTextConfig().MaxPositionEmbeddings;
        var rows = new List<int[]>();
        foreach (var text in texts)
        {
            var full = Tokenizer.Encode(text);
            if (full.Length > positions)
                Log.Warning($"CLIP metric: the text has {full.Length} tokens; the model reads the first {positions} (with the end token): \"{text}\"");
            rows.Add(full.Length > positions ? Tokenizer.Encode(text, positions) : full);
        }
        using var batch = new TokenizedBatch(rows, rows.Max(r => r.Length), Tokenizer.PadId);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var device = Model.logit_scale.device;
        var features = Model.GetTextFeatures(batch.InputIds.to(device), batch.AttentionMask.to(device));
        return CLIPModel.Normalized(features.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary>Checks that <paramref name="frames"/> is (F, H, W, 3) uint8 with F ≥ <paramref name="minimum"/>.</summary>
    internal static void CheckFrames(Tensor frames, int minimum, string what)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.dtype != ScalarType.Byte || frames.dim() != 4 || frames.shape[3] != 3)
            throw new ArgumentException($"{what}: expected (F, H, W, 3) uint8 RGB frames, got {frames.dtype} [{string.Join(", ", frames.shape)}].", nameof(frames));
        if (frames.shape[0] < minimum)
            throw new ArgumentException($"{what}: needs at least {minimum} frame{(minimum == 1 ? "" : "s")}, got {frames.shape[0]}.", nameof(frames));
    }

    /// <summary>Frees the model.</summary>
    public void Dispose() => Model.Dispose();
}
