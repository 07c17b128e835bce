using System.Security.Cryptography;
using System.Text;

namespace MotionTune.Probe;

/// <summary>One video the probe is asked to measure.</summary>
/// <param name="Video">The video's name (the TGVE "Video name").</param>
/// <param name="Caption">Its ground-truth caption c.</param>
/// <param name="EditedCaption">The edited caption c′.</param>
public sealed record ProbeJob(string Video, string Caption, string EditedCaption);

/// <summary>What <see cref="ProbeResultStore.Check"/> found for a video.</summary>
public enum ProbeResultState
{
    /// <summary>No result file: the video is to do.</summary>
    Missing,
    /// <summary>A valid result for the same captions and grid: the video is done.</summary>
    Complete,
    /// <summary>A file that does not parse or is incomplete (a crash mid-run, a truncated copy): to redo.</summary>
    Corrupt,
    /// <summary>A valid result for other captions or another grid (the inputs changed): to redo.</summary>
    Stale,
}

/// <summary>
/// The probe's per-video results folder, which makes a dataset run resumable: one JSON file per video
/// (<see cref="PathFor"/>), written atomically when the video is finished, so a file that exists and validates is a
/// finished video. A run asks <see cref="Pending"/> for the videos still to do; a corrupt or stale file counts as not
/// done (a warning says why) and is replaced when the video is saved again.
/// </summary>
/// <example>
/// A probe runner's loop:
/// <code>
/// var store = new ProbeResultStore(resultsFolder, ProbeGrid.Default);
/// foreach (var job in store.Pending(jobs))           // jobs: video, caption c, edited caption c′
/// {
///     // invert with c, resample every store.Grid.Cells window, measure ...
///     store.Save(new ProbeVideoResult { Video = job.Video, Caption = job.Caption, EditedCaption = job.EditedCaption,
///                                       BaseClipScore = baseScore, Cells = cells, Model = modelName });
/// }
/// ProbeReport.Write(outputFolder, store.LoadAll().Results);   // tables, figures, recommended τ
/// </code>
/// </example>
public sealed class ProbeResultStore
{
    /// <summary>The results folder.</summary>
    public string Folder { get; }

    /// <summary>The grid every result in the folder must cover.</summary>
    public ProbeGrid Grid { get; }

    /// <summary>Opens (and creates) the folder <paramref name="folder"/>.</summary>
    public ProbeResultStore(string folder, ProbeGrid? grid = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = Path.GetFullPath(folder);
        Grid = grid ?? ProbeGrid.Default;
        Directory.CreateDirectory(Folder);
    }

    /// <summary>File name extension of result files.</summary>
    public const string Extension = ".probe.json";

    /// <summary>
    /// The result file of <paramref name="video"/>: its name with characters unsafe in file names replaced by '_';
    /// where anything was replaced, a short hash of the real name is added so two names cannot share a file.
    /// </summary>
    public string PathFor(string video)
    {
        ArgumentException.ThrowIfNullOrEmpty(video);
        var invalid = Path.GetInvalidFileNameChars();
        var safe = new string(video.Select(ch => invalid.Contains(ch) || ch == '\\' || char.IsControl(ch) ? '_' : ch).ToArray()).Trim();
        if (safe != video || safe.StartsWith('.') || safe.Length == 0)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(video)))[..8];
            safe = $"{safe.TrimStart('.')}_{hash}";
        }
        return Path.Combine(Folder, safe + Extension);
    }

    /// <summary>The state of <paramref name="job"/>'s result and, where complete, the result.</summary>
    public (ProbeResultState State, ProbeVideoResult? Result, string? Reason) Check(ProbeJob job)
    {
        var path = PathFor(job.Video);
        if (!File.Exists(path)) return (ProbeResultState.Missing, null, null);
        ProbeVideoResult result;
        try { result = ProbeVideoResult.ReadJson(path, Grid); }
        catch (InvalidDataException e) { return (ProbeResultState.Corrupt, null, e.Message); }
        catch (IOException e) { return (ProbeResultState.Corrupt, null, $"{path}: {e.Message}"); }
        if (result.Video != job.Video) return (ProbeResultState.Stale, null, $"{path} holds video '{result.Video}', not '{job.Video}'");
        if (result.Caption != job.Caption || result.EditedCaption != job.EditedCaption)
            return (ProbeResultState.Stale, null, $"{path} was measured with other captions ('{result.Caption}' → '{result.EditedCaption}')");
        return (ProbeResultState.Complete, result, null);
    }

    /// <summary>The finished result of <paramref name="job"/>, or null when it is missing, corrupt or stale (with a warning for the latter two).</summary>
    public ProbeVideoResult? TryLoad(ProbeJob job)
    {
        var (state, result, reason) = Check(job);
        if (state is ProbeResultState.Corrupt or ProbeResultState.Stale)
            Log.Warning($"probe: redoing '{job.Video}': {reason}");
        return result;
    }

    /// <summary>The jobs whose results are not complete, in the given order (warnings name the corrupt and stale ones).</summary>
    public IReadOnlyList<ProbeJob> Pending(IEnumerable<ProbeJob> jobs) => jobs.Where(job => TryLoad(job) is null).ToArray();

    /// <summary>Validates <paramref name="result"/> against the store's grid and writes it atomically.</summary>
    /// <exception cref="InvalidDataException">The result is incomplete or inconsistent.</exception>
    public string Save(ProbeVideoResult result)
    {
        result.Validate(Grid);
        var path = PathFor(result.Video);
        result.WriteJson(path);
        return path;
    }

    /// <summary>
    /// Every valid result in the folder, by video name; files that do not validate are listed in
    /// <c>Skipped</c> with the reason and left out.
    /// </summary>
    public (IReadOnlyList<ProbeVideoResult> Results, IReadOnlyList<string> Skipped) LoadAll()
    {
        var results = new List<ProbeVideoResult>();
        var skipped = new List<string>();
        foreach (var path in Directory.EnumerateFiles(Folder, "*" + Extension).Order(StringComparer.Ordinal))
        {
            if (Path.GetFileName(path).StartsWith('.')) continue; // a temporary file of an atomic write in progress
            try { results.Add(ProbeVideoResult.ReadJson(path, Grid)); }
            catch (Exception e) when (e is InvalidDataException or IOException) { skipped.Add(e.Message); }
        }
        var duplicates = results.GroupBy(r => r.Video).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (duplicates.Length > 0)
            throw new InvalidDataException($"{Folder}: more than one result file for video(s) {string.Join(", ", duplicates)}.");
        return (results.OrderBy(r => r.Video, StringComparer.Ordinal).ToArray(), skipped);
    }
}
