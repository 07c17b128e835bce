using MotionTune.Video;

namespace MotionTune.Evaluation;

/// <summary>
/// Finds a TGVE video's file by its "Video name" in a video folder. The names in the CSV usually lack an extension,
/// and the official download keeps videos in subfolders (<c>DAVIS_480p/480p_videos/gold-fish.mp4</c>, with the frames
/// in <c>DAVIS_480p/480p_frames/gold-fish/</c>), so the folder and its subfolders down to two levels are searched for
/// <list type="number">
/// <item>a file named exactly the video name, when that name has a readable video extension;</item>
/// <item>the name plus each of <see cref="VideoFile.VideoExtensions"/> (.mp4 first);</item>
/// <item>a folder of that name holding .png / .jpg frames.</item>
/// </list>
/// Among the matches the shallowest wins, then the order above, then the path in ordinal order, so the choice is
/// deterministic. Names compare case-sensitively.
/// </summary>
public sealed class TgveVideoLocator
{
    /// <summary>How many folder levels below the video folder are searched.</summary>
    public const int SearchDepth = 2;

    private readonly List<(string Directory, int Depth)> _directories = [];

    /// <summary>The video folder.</summary>
    public string Folder { get; }

    /// <summary>Indexes <paramref name="folder"/> and its subfolders (hidden ones left out).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public TgveVideoLocator(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"video folder not found: {folder}");
        Folder = Path.GetFullPath(folder);
        var level = new List<string> { Folder };
        for (int depth = 0; depth <= SearchDepth && level.Count > 0; depth++)
        {
            foreach (var dir in level) _directories.Add((dir, depth));
            level = level
                .SelectMany(d => Directory.EnumerateDirectories(d).Where(s => !Path.GetFileName(s).StartsWith('.')))
                .Order(StringComparer.Ordinal)
                .ToList();
        }
    }

    /// <summary>The path of <paramref name="video"/>'s file or frame folder, or null when none is found.</summary>
    public string? Find(string video)
    {
        ArgumentException.ThrowIfNullOrEmpty(video);
        if (video.IndexOfAny(['/', '\\']) >= 0 || video is "." or "..") return null;
        var extensions = VideoFile.VideoExtensions;
        bool hasExtension = extensions.Contains(Path.GetExtension(video), StringComparer.OrdinalIgnoreCase);
        foreach (var group in _directories.GroupBy(d => d.Depth).OrderBy(g => g.Key))
        {
            var matches = new List<(int Rank, string Path)>();
            foreach (var (dir, _) in group)
            {
                if (hasExtension && File.Exists(Path.Combine(dir, video))) matches.Add((0, Path.Combine(dir, video)));
                for (int i = 0; i < extensions.Count; i++)
                {
                    var file = Path.Combine(dir, video + extensions[i]);
                    if (File.Exists(file)) matches.Add((1 + i, file));
                }
                var frames = Path.Combine(dir, video);
                if (Directory.Exists(frames) && FrameFolder.FrameFiles(frames).Length > 0) matches.Add((1 + extensions.Count, frames));
            }
            if (matches.Count > 0) return matches.OrderBy(m => m.Rank).ThenBy(m => m.Path, StringComparer.Ordinal).First().Path;
        }
        return null;
    }

    /// <summary>Where <see cref="Find"/> looked, for error messages.</summary>
    public string DescribeSearch(string video) =>
        $"looked in {Folder} and its subfolders down to {SearchDepth} levels for '{video}' with " +
        $"{string.Join(", ", VideoFile.VideoExtensions)} or as a folder of {string.Join("/", FrameFolder.Extensions)} frames";
}
