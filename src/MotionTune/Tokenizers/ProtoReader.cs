namespace MotionTune.Tokenizers;

/// <summary>
/// A minimal reader of the protobuf wire format: enough to walk the fields of a SentencePiece <c>.model</c> file
/// without generated code. Unknown fields are skipped by the caller with <see cref="Skip"/>.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data, string source)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    /// <summary>Wire types of the protobuf encoding.</summary>
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    /// <summary>True while fields remain.</summary>
    public readonly bool HasMore => _pos < _data.Length;

    /// <summary>Reads the next field's number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong tag = ReadVarint();
        int field = (int)(tag >> 3);
        if (field == 0) throw Corrupt("field number 0");
        return (field, (int)(tag & 7));
    }

    /// <summary>Reads a base-128 varint.</summary>
    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw Corrupt("truncated varint");
            byte b = _data[_pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw Corrupt("varint longer than 10 bytes");
    }

    /// <summary>Reads an <c>int32</c> varint (negative values are sign-extended to 64 bits on the wire).</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    /// <summary>Reads a <c>bool</c>.</summary>
    public bool ReadBool() => ReadVarint() != 0;

    /// <summary>Reads a little-endian <c>float</c>.</summary>
    public float ReadFloat()
    {
        if (_pos + 4 > _data.Length) throw Corrupt("truncated float");
        float value = BitConverter.ToSingle(_data.Slice(_pos, 4));
        _pos += 4;
        return value;
    }

    /// <summary>Reads a length-delimited field's bytes.</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _pos)) throw Corrupt("length-delimited field runs past the end");
        var bytes = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return bytes;
    }

    /// <summary>Reads a length-delimited field as UTF-8 text.</summary>
    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes());

    /// <summary>Skips a field's value.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Advance(8); break;
            case LengthDelimited: ReadBytes(); break;
            case Fixed32: Advance(4); break;
            default: throw Corrupt($"unsupported wire type {wireType}");
        }
    }

    private void Advance(int count)
    {
        if (_pos + count > _data.Length) throw Corrupt("truncated fixed-size field");
        _pos += count;
    }

    private readonly InvalidDataException Corrupt(string what) =>
        new($"{source}: not a valid protobuf message ({what} at byte {_pos}).");
}
