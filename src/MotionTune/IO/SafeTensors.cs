using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MotionTune.IO;

/// <summary>Raised for a checkpoint or weight file that cannot be read as what it claims to be.</summary>
public sealed class CheckpointFormatException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>One tensor entry of a safetensors header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">The safetensors dtype code (F32, BF16, ...).</param>
/// <param name="Shape">Shape.</param>
/// <param name="Begin">Start offset in the data section.</param>
/// <param name="End">End offset in the data section.</param>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>The TorchSharp scalar type for <see cref="DType"/>.</summary>
    public ScalarType ScalarType => SafeTensors.ToScalarType(DType);
}

/// <summary>
/// A safetensors file opened read-only through a memory map: the header is parsed and checked on open,
/// and each tensor is copied out of the map only when asked for, so a multi-GB checkpoint never sits
/// whole in managed memory.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private bool _disposed;

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Tensor entries by name, in header order.</summary>
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr, long dataStart,
        Dictionary<string, SafeTensorEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; _map = map; _view = view; _base = basePtr; _dataStart = dataStart;
        Entries = entries; Metadata = metadata;
    }

    /// <summary>Opens and validates a safetensors file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointFormatException">The header is corrupt, a dtype is unknown or the file is truncated.</exception>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weight file not found: {path}", path);
        long length = new FileInfo(path).Length;
        if (length < 8) throw new CheckpointFormatException($"{path}: {length} bytes is too short for a safetensors file (no header length).");

        ulong headerLength;
        byte[] headerBytes;
        using (var stream = File.OpenRead(path))
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            stream.ReadExactly(lengthBytes);
            headerLength = BitConverter.ToUInt64(lengthBytes);
            if (headerLength == 0 || headerLength > (ulong)(length - 8) || headerLength > 100_000_000)
                throw new CheckpointFormatException(
                    $"{path}: header length {headerLength} does not fit a {length}-byte file; the file is corrupt, truncated, or not safetensors.");
            headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
        }

        var (entries, metadata) = ParseHeader(path, headerBytes);
        long dataStart = 8 + (long)headerLength;
        long dataLength = length - dataStart;
        foreach (var e in entries.Values)
        {
            long expected = e.Shape.Aggregate(1L, (a, b) => a * b) * SafeTensors.ElementSize(e.DType, path, e.Name);
            if (e.Begin < 0 || e.End < e.Begin || e.End - e.Begin != expected)
                throw new CheckpointFormatException(
                    $"{path}: tensor '{e.Name}' ({e.DType} [{string.Join(", ", e.Shape)}]) has data offsets [{e.Begin}, {e.End}) " +
                    $"that do not hold its {expected} bytes.");
            if (e.End > dataLength)
                throw new CheckpointFormatException(
                    $"{path}: tensor '{e.Name}' ends at byte {dataStart + e.End} but the file has {length} bytes; the file is truncated.");
        }

        if (dataLength == 0)
            return new SafeTensorsFile(path, null, null, null, dataStart, entries, metadata);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        basePtr += view.PointerOffset;
        return new SafeTensorsFile(path, map, view, basePtr, dataStart, entries, metadata);
    }

    private static (Dictionary<string, SafeTensorEntry>, Dictionary<string, string>) ParseHeader(string path, byte[] header)
    {
        var entries = new Dictionary<string, SafeTensorEntry>();
        var metadata = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(header);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FormatException("the header is not a JSON object");
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    foreach (var m in property.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var v = property.Value;
                var dtype = v.GetProperty("dtype").GetString() ?? throw new FormatException($"'{property.Name}' has no dtype");
                var shape = v.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                var offsets = v.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (offsets.Length != 2) throw new FormatException($"'{property.Name}' needs two data_offsets");
                entries[property.Name] = new SafeTensorEntry(property.Name, dtype, shape, offsets[0], offsets[1]);
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointFormatException($"{path}: corrupt safetensors header: {e.Message}", e);
        }
        return (entries, metadata);
    }

    /// <summary>Reads one tensor into a new CPU tensor of its stored dtype.</summary>
    public Tensor Read(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Entries.TryGetValue(name, out var e))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");
        var t = empty(e.Shape, e.ScalarType, CPU);
        long count = e.End - e.Begin;
        if (count > int.MaxValue)
            throw new CheckpointFormatException($"{Path}: tensor '{name}' holds {count} bytes; tensors over 2 GiB are not supported.");
        if (count > 0)
        {
            var src = _base + _dataStart + e.Begin;
            var dst = t.bytes;
            fixed (byte* dstPtr = dst) Buffer.MemoryCopy(src, dstPtr, count, count);
        }
        return t;
    }

    /// <summary>Reads one tensor converted to <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public Tensor Read(string name, ScalarType dtype, Device device)
    {
        using var raw = Read(name);
        return raw.to(dtype, device);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

/// <summary>Safetensors dtype codes and the atomic writer.</summary>
public static class SafeTensors
{
    /// <summary>Maps a safetensors dtype code to a TorchSharp scalar type.</summary>
    public static ScalarType ToScalarType(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new CheckpointFormatException($"unsupported safetensors dtype '{dtype}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)."),
    };

    /// <summary>Maps a TorchSharp scalar type to its safetensors dtype code.</summary>
    public static string ToCode(ScalarType type) => type switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"{type} cannot be stored in safetensors by MotionTune."),
    };

    internal static long ElementSize(string dtype, string path, string name) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new CheckpointFormatException(
            $"{path}: tensor '{name}' has unsupported dtype '{dtype}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)."),
    };

    /// <summary>
    /// Writes tensors (and optional <c>__metadata__</c>) to a safetensors file atomically: the data goes to
    /// a temporary file beside the target, which is renamed over it only when complete.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var duplicate = list.GroupBy(p => p.Key).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Tensor name '{duplicate.Key}' appears twice.");

        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, t) in list)
        {
            long size = t.numel() * t.element_size();
            header[name] = new { dtype = ToCode(t.dtype), shape = t.shape, data_offsets = new[] { offset, offset + size } };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8; // keep the data section 8-byte aligned
        var headerBytes = new byte[padded];
        Array.Fill(headerBytes, (byte)' ');
        json.CopyTo(headerBytes, 0);

        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(headerBytes);
            foreach (var (_, t) in list)
            {
                using var scope = NewDisposeScope();
                var cpu = t.detach().cpu().contiguous();
                stream.Write(cpu.bytes);
            }
        });
    }
}
