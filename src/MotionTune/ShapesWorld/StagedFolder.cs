namespace MotionTune.ShapesWorld;

/// <summary>Writes a folder in full or not at all: into a temporary sibling, renamed into place at the end.</summary>
internal static class StagedFolder
{
    /// <summary>
    /// Fails early, before any work, when <see cref="Write"/> would refuse <paramref name="target"/>: it exists and is
    /// not empty and <paramref name="overwrite"/> is off.
    /// </summary>
    public static void CheckTarget(string target, bool overwrite)
    {
        var full = Path.GetFullPath(target);
        if (!overwrite && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"{full} already exists and is not empty; choose another folder or pass --overwrite.");
    }

    /// <summary>
    /// Runs <paramref name="fill"/> on a temporary folder beside <paramref name="target"/>, then puts it in place.
    /// An existing non-empty target is an error unless <paramref name="overwrite"/>, when it is replaced.
    /// </summary>
    public static void Write(string target, bool overwrite, Action<string> fill)
    {
        var full = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        bool exists = Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any();
        if (exists && !overwrite) throw new IOException($"{full} already exists and is not empty; choose another folder or allow overwriting.");
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var name = Path.GetFileName(full);
        var staging = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(staging);
            fill(staging);
            if (Directory.Exists(full))
            {
                var old = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.old");
                Directory.Move(full, old);
                Directory.Move(staging, full);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(staging, full);
        }
        catch
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); } catch (IOException) { }
            throw;
        }
    }
}
