namespace MotionTune.Tokenizers;

/// <summary>The kind of a SentencePiece vocabulary entry (<c>ModelProto.SentencePiece.Type</c>).</summary>
public enum PieceType
{
    /// <summary>An ordinary piece.</summary>
    Normal = 1,
    /// <summary>The unknown piece.</summary>
    Unknown = 2,
    /// <summary>A control symbol (<c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>); never produced by segmentation.</summary>
    Control = 3,
    /// <summary>A user-defined symbol, always kept whole.</summary>
    UserDefined = 4,
    /// <summary>Present in the vocabulary but never used.</summary>
    Unused = 5,
    /// <summary>A byte-fallback piece such as <c>&lt;0x41&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>One vocabulary entry: text, log-probability score and type.</summary>
public readonly record struct SentencePiece(string Piece, float Score, PieceType Type);

/// <summary>
/// The parts of a SentencePiece <c>.model</c> file (a serialised <c>sentencepiece.ModelProto</c>) that encoding needs:
/// the vocabulary, the special ids of the trainer spec and the normaliser spec. Read with our own protobuf reader, so
/// models trained with <c>bos_id=-1</c> (T5's) load like any other.
/// </summary>
public sealed class SentencePieceModel
{
    /// <summary>Vocabulary in id order.</summary>
    public IReadOnlyList<SentencePiece> Pieces { get; }
    /// <summary><c>TrainerSpec.model_type</c>: 1 unigram, 2 BPE, 3 word, 4 char.</summary>
    public int ModelType { get; }
    /// <summary>Id of the unknown piece.</summary>
    public int UnkId { get; }
    /// <summary>Id of the beginning-of-sentence piece, or -1.</summary>
    public int BosId { get; }
    /// <summary>Id of the end-of-sentence piece, or -1.</summary>
    public int EosId { get; }
    /// <summary>Id of the padding piece, or -1.</summary>
    public int PadId { get; }
    /// <summary>Whether unknown characters are spelled as byte pieces.</summary>
    public bool ByteFallback { get; }
    /// <summary>Whether the whitespace marker goes at the end of a word instead of its start.</summary>
    public bool TreatWhitespaceAsSuffix { get; }
    /// <summary>The normalisation rule's name (e.g. <c>nmt_nfkc</c>).</summary>
    public string NormalizerName { get; }
    /// <summary>The compiled normalisation table, or empty for identity normalisation.</summary>
    public byte[] PrecompiledCharsMap { get; }
    /// <summary>Whether a whitespace is put in front of the text.</summary>
    public bool AddDummyPrefix { get; }
    /// <summary>Whether leading, trailing and repeated whitespace is removed.</summary>
    public bool RemoveExtraWhitespaces { get; }
    /// <summary>Whether spaces become U+2581.</summary>
    public bool EscapeWhitespaces { get; }

    private SentencePieceModel(List<SentencePiece> pieces, TrainerSpec trainer, NormalizerSpec normalizer)
    {
        Pieces = pieces;
        ModelType = trainer.ModelType;
        UnkId = trainer.UnkId;
        BosId = trainer.BosId;
        EosId = trainer.EosId;
        PadId = trainer.PadId;
        ByteFallback = trainer.ByteFallback;
        TreatWhitespaceAsSuffix = trainer.TreatWhitespaceAsSuffix;
        NormalizerName = normalizer.Name;
        PrecompiledCharsMap = normalizer.CharsMap;
        AddDummyPrefix = normalizer.AddDummyPrefix;
        RemoveExtraWhitespaces = normalizer.RemoveExtraWhitespaces;
        EscapeWhitespaces = normalizer.EscapeWhitespaces;
    }

    /// <summary>Reads a <c>.model</c> file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a SentencePiece model.</exception>
    public static SentencePieceModel Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"SentencePiece model not found: {path}", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses the bytes of a <c>.model</c> file; <paramref name="source"/> names it in errors.</summary>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> bytes, string source)
    {
        var pieces = new List<SentencePiece>();
        var trainer = new TrainerSpec();
        var normalizer = new NormalizerSpec();
        var reader = new ProtoReader(bytes, source);
        while (reader.HasMore)
        {
            var (field, wire) = reader.ReadTag();
            if (field == 1 && wire == ProtoReader.LengthDelimited) pieces.Add(ReadPiece(reader.ReadBytes(), source));
            else if (field == 2 && wire == ProtoReader.LengthDelimited) trainer = ReadTrainerSpec(reader.ReadBytes(), source);
            else if (field == 3 && wire == ProtoReader.LengthDelimited) normalizer = ReadNormalizerSpec(reader.ReadBytes(), source);
            else reader.Skip(wire);
        }
        if (pieces.Count == 0) throw new InvalidDataException($"{source}: no vocabulary; not a SentencePiece model.");
        foreach (var (name, id) in new[] { ("unk_id", trainer.UnkId), ("bos_id", trainer.BosId), ("eos_id", trainer.EosId), ("pad_id", trainer.PadId) })
            if (id >= pieces.Count || id < -1 || (name == "unk_id" && id < 0))
                throw new InvalidDataException($"{source}: {name}={id} is outside the vocabulary of {pieces.Count} pieces.");
        return new SentencePieceModel(pieces, trainer, normalizer);
    }

    private static SentencePiece ReadPiece(ReadOnlySpan<byte> bytes, string source)
    {
        string piece = "";
        float score = 0;
        var type = PieceType.Normal;
        var reader = new ProtoReader(bytes, source);
        while (reader.HasMore)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case 1 when wire == ProtoReader.LengthDelimited: piece = reader.ReadString(); break;
                case 2 when wire == ProtoReader.Fixed32: score = reader.ReadFloat(); break;
                case 3 when wire == ProtoReader.Varint: type = (PieceType)reader.ReadInt32(); break;
                default: reader.Skip(wire); break;
            }
        }
        return new SentencePiece(piece, score, type);
    }

    // Defaults are those of sentencepiece_model.proto.
    private sealed record TrainerSpec
    {
        public int ModelType { get; set; } = 1;
        public int UnkId { get; set; }
        public int BosId { get; set; } = 1;
        public int EosId { get; set; } = 2;
        public int PadId { get; set; } = -1;
        public bool ByteFallback { get; set; }
        public bool TreatWhitespaceAsSuffix { get; set; }
    }

    private sealed record NormalizerSpec
    {
        public string Name { get; set; } = "";
        public byte[] CharsMap { get; set; } = [];
        public bool AddDummyPrefix { get; set; } = true;
        public bool RemoveExtraWhitespaces { get; set; } = true;
        public bool EscapeWhitespaces { get; set; } = true;
    }

    private static TrainerSpec ReadTrainerSpec(ReadOnlySpan<byte> bytes, string source)
    {
        var spec = new TrainerSpec();
        var reader = new ProtoReader(bytes, source);
        while (reader.HasMore)
        {
            var (field, wire) = reader.ReadTag();
            if (wire != ProtoReader.Varint) { reader.Skip(wire); continue; }
            switch (field)
            {
                case 3: spec.ModelType = reader.ReadInt32(); break;
                case 24: spec.TreatWhitespaceAsSuffix = reader.ReadBool(); break;
                case 35: spec.ByteFallback = reader.ReadBool(); break;
                case 40: spec.UnkId = reader.ReadInt32(); break;
                case 41: spec.BosId = reader.ReadInt32(); break;
                case 42: spec.EosId = reader.ReadInt32(); break;
                case 43: spec.PadId = reader.ReadInt32(); break;
                default: reader.ReadVarint(); break;
            }
        }
        return spec;
    }

    private static NormalizerSpec ReadNormalizerSpec(ReadOnlySpan<byte> bytes, string source)
    {
        var spec = new NormalizerSpec();
        var reader = new ProtoReader(bytes, source);
        while (reader.HasMore)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case 1 when wire == ProtoReader.LengthDelimited: spec.Name = reader.ReadString(); break;
                case 2 when wire == ProtoReader.LengthDelimited: spec.CharsMap = reader.ReadBytes().ToArray(); break;
                case 3 when wire == ProtoReader.Varint: spec.AddDummyPrefix = reader.ReadBool(); break;
                case 4 when wire == ProtoReader.Varint: spec.RemoveExtraWhitespaces = reader.ReadBool(); break;
                case 5 when wire == ProtoReader.Varint: spec.EscapeWhitespaces = reader.ReadBool(); break;
                default: reader.Skip(wire); break;
            }
        }
        return spec;
    }
}
