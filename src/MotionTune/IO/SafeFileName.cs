using System.Security.Cryptography;
using System.Text;

namespace MotionTune.IO;

/// <summary>File names made from free text (video names): unsafe characters become '_', plus a short hash of the text where anything changed, so two names never share a file.</summary>
public static class SafeFileName
{
    /// <summary>A file name part for <paramref name="name"/>.</summary>
    public static string For(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var invalid = Path.GetInvalidFileNameChars();
        var safe = new string(name.Select(ch => invalid.Contains(ch) || ch == '\\' || char.IsControl(ch) ? '_' : ch).ToArray()).Trim();
        if (safe == name && !safe.StartsWith('.') && safe.Length > 0) return safe;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        return $"{safe.TrimStart('.')}_{hash}";
    }
}
