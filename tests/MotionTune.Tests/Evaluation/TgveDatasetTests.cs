using System.Text;
using MotionTune.Evaluation;

namespace MotionTune.Tests.Evaluation;

public sealed class TgveDatasetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motiontune-tgve-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Shaped like LOVEU-TGVE-2023_Dataset.csv: BOM, CRLF, section rows with empty cells, blank separators,
    // quoted fields with commas and quotes, a field spanning lines, trailing empty columns.
    private const string RealShape =
        "Video name,Our GT caption,Style Change Caption,Object Change Caption,Background Change Caption,Multiple Changes Caption,,\r\n" +
        "DAVIS Videos:,,,,,,,\r\n" +
        "gold-fish,\"Goldfish swim in a tank, slowly.\",Goldfish in Van Gogh style.,Koi swim in a tank.,Goldfish in the sea.,\"Koi, in \"\"Van Gogh\"\" style, in the sea.\",,\r\n" +
        "bear,A bear walks.,A bear walks in anime style.,A lion walks.,A bear walks in snow.,A lion walks in snow in anime style.,,\r\n" +
        ",,,,,,,\r\n" +
        "Youtube Videos:,,,,,,,\r\n" +
        "cat-in-the-sun,A cat sits in the sun.,A cat sits in the sun in watercolor.,\"A dog sits\nin the sun.\",A cat sits on the moon.,A dog sits on the moon in watercolor.,,\r\n" +
        "\r\n" +
        "Videvo Videos:,,,,,,,\r\n" +
        "raindrops,Raindrops fall on a window.,Raindrops in pixel art.,Snowflakes fall on a window.,Raindrops fall on a car.,Snowflakes fall on a car in pixel art.,,\r\n";

    private string WriteCsv(string text, string name = "tgve.csv")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        return path;
    }

    private string VideoFolder(params string[] relativeFiles)
    {
        var folder = Path.Combine(_dir, "videos");
        Directory.CreateDirectory(folder);
        foreach (var f in relativeFiles)
        {
            var path = Path.Combine(folder, f);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, [1, 2, 3]);
        }
        return folder;
    }

    [Fact]
    public void ParsesSectionsQuotesBomAndTrailingColumns()
    {
        var (entries, malformed) = TgveDataset.ParseCsv(WriteCsv(RealShape));
        Assert.Empty(malformed);
        Assert.Equal(["gold-fish", "bear", "cat-in-the-sun", "raindrops"], entries.Select(e => e.Video));
        Assert.Equal([0, 1, 2, 3], entries.Select(e => e.Index));
        Assert.Equal(["DAVIS Videos", "DAVIS Videos", "Youtube Videos", "Videvo Videos"], entries.Select(e => e.Section));
        var fish = entries[0];
        Assert.Equal(3, fish.LineNumber);
        Assert.Equal("Goldfish swim in a tank, slowly.", fish.Caption);
        Assert.Equal("Koi swim in a tank.", fish.Prompts[EditKinds.Object]);
        Assert.Equal("Koi, in \"Van Gogh\" style, in the sea.", fish.Prompts[EditKinds.Multiple]);
        Assert.Equal(EditKinds.All, fish.Prompts.Keys);
        Assert.Equal("A dog sits\nin the sun.", entries[2].Prompts[EditKinds.Object]);
        Assert.Equal(11, entries[3].LineNumber); // the quoted line break counts as a line
    }

    [Fact]
    public void ReportsMalformedRowsWithTheirLines()
    {
        var text =
            "Video name,Our GT caption,Style Change Caption,Object Change Caption,Background Change Caption,Multiple Changes Caption\n" +
            "DAVIS Videos:,,,,,\n" +
            "ok,A.,B.,C.,D.,E.\n" +
            "no-caption,,B.,C.,D.,E.\n" +               // line 4: empty GT caption
            "comma,A, with comma.,B.,C.,D.,E.\n" +      // line 5: unquoted comma shifts the columns
            ",A.,B.,C.,D.,E.\n" +                        // line 6: no video name
            "ok,A.,B.,C.,D.,E.\n" +                      // line 7: repeated
            "lonely\n" +                                 // line 8: a name without captions and no colon
            "fine,A.,B.,C.,D.,E.\n" +
            "broken,\"A. never closed,B.,C.,D.,E.\n";   // line 10: unterminated quote runs to the end
        var path = WriteCsv(text);
        var (entries, malformed) = TgveDataset.ParseCsv(path);
        Assert.Equal(["ok", "fine"], entries.Select(e => e.Video));
        Assert.Equal([4, 5, 6, 7, 8, 10], malformed.Select(m => m.LineNumber));
        Assert.Contains("'Our GT caption'", malformed[0].Message);
        Assert.Contains("7 fields but the header has 6", malformed[1].Message);
        Assert.Contains("first on line 3", malformed[3].Message);
        Assert.Contains("never closed", malformed[5].Message);

        var folder = VideoFolder("ok.mp4", "fine.mp4");
        var e = Assert.Throws<TgveDatasetException>(() => TgveDataset.Load(path, folder));
        Assert.Contains("6 malformed row(s)", e.Message);
        Assert.Contains("line 5:", e.Message);

        var dataset = TgveDataset.Load(path, folder, new TgveLoadOptions { SkipMalformedRows = true });
        Assert.Equal(2, dataset.Entries.Count);
        Assert.Equal(6, dataset.MalformedRows.Count);
    }

    [Fact]
    public void AHeaderWithoutARequiredColumnIsAnError()
    {
        var path = WriteCsv("Video name,Our GT caption,Style Change Caption\nx,a,b\n");
        var e = Assert.Throws<TgveDatasetException>(() => TgveDataset.ParseCsv(path));
        Assert.Contains("'Object Change Caption'", e.Message);
        Assert.Contains(":1:", e.Message);
        Assert.Throws<TgveDatasetException>(() => TgveDataset.ParseCsv(WriteCsv("\n\n", "empty.csv")));
        Assert.Throws<FileNotFoundException>(() => TgveDataset.ParseCsv(Path.Combine(_dir, "nope.csv")));
    }

    [Fact]
    public void LocatesVideosByNameInTheFolderAndItsSubfolders()
    {
        var folder = VideoFolder(
            "DAVIS_480p/480p_videos/gold-fish.mp4",
            "DAVIS_480p/480p_frames/gold-fish/00000.jpg",   // the mp4 wins over the frames at the same depth
            "DAVIS_480p/480p_frames/bear/00000.jpg",        // frames only
            "DAVIS_480p/480p_frames/bear/00001.jpg",
            "cat-in-the-sun.gif",                           // top level
            "deep/cat-in-the-sun.mp4",                      // deeper: loses to the top-level gif
            "raindrops.webm",
            "raindrops.mp4");                               // .mp4 preferred over .webm
        var dataset = TgveDataset.Load(WriteCsv(RealShape), folder);
        string Rel(string video) => Path.GetRelativePath(folder, dataset.Find(video)!.VideoPath!);
        Assert.Equal(Path.Combine("DAVIS_480p", "480p_videos", "gold-fish.mp4"), Rel("gold-fish"));
        Assert.Equal(Path.Combine("DAVIS_480p", "480p_frames", "bear"), Rel("bear"));
        Assert.Equal("cat-in-the-sun.gif", Rel("cat-in-the-sun"));
        Assert.Equal("raindrops.mp4", Rel("raindrops"));
    }

    [Fact]
    public void NamesWithExtensionsAndEmptyFrameFoldersAreHandled()
    {
        var folder = VideoFolder("clip.gif", "empty/readme.txt");
        var locator = new TgveVideoLocator(folder);
        Assert.Equal(Path.Combine(folder, "clip.gif"), locator.Find("clip.gif"));
        Assert.Equal(Path.Combine(folder, "clip.gif"), locator.Find("clip"));
        Assert.Null(locator.Find("empty"));         // a folder without frames is not a video
        Assert.Null(locator.Find("../videos/clip")); // names are names, not paths
        Assert.Throws<DirectoryNotFoundException>(() => new TgveVideoLocator(Path.Combine(_dir, "absent")));
    }

    [Fact]
    public void AMissingVideoFailsNamingItOrIsSkipped()
    {
        var folder = VideoFolder("gold-fish.mp4", "cat-in-the-sun.mp4", "raindrops.mp4");
        var csv = WriteCsv(RealShape);
        var e = Assert.Throws<TgveDatasetException>(() => TgveDataset.Load(csv, folder));
        Assert.Contains("'bear' (line 4)", e.Message);
        Assert.Contains("--skip-missing", e.Message);
        Assert.Contains(folder, e.Message);

        var dataset = TgveDataset.Load(csv, folder, new TgveLoadOptions { SkipMissingVideos = true });
        Assert.Equal(["gold-fish", "cat-in-the-sun", "raindrops"], dataset.Entries.Select(x => x.Video));
        Assert.Equal("bear", Assert.Single(dataset.MissingVideos).Video);
        // Indices stay those of the CSV, so shards agree whichever videos are present.
        Assert.Equal([0, 2, 3], dataset.Entries.Select(x => x.Index));
    }

    [Fact]
    public void ShardsCoverEveryVideoExactlyOnceAndAreBalanced()
    {
        var entries = Enumerable.Range(0, 77).Select(i => new TgveEntry(i, i + 2, $"v{i}", "c", new Dictionary<string, string>(), null, null)).ToArray();
        foreach (int n in new[] { 1, 2, 3, 4, 7, 10, 77, 100 })
        {
            var shards = Enumerable.Range(0, n).Select(i => ShardSpec.Parse($"{i}/{n}").Select(entries)).ToArray();
            var all = shards.SelectMany(s => s).Select(e => e.Index).ToArray();
            Assert.Equal(entries.Length, all.Length);
            Assert.Equal(entries.Select(e => e.Index).ToHashSet(), all.ToHashSet());
            Assert.True(shards.Max(s => s.Count) - shards.Min(s => s.Count) <= 1, $"unbalanced with {n} shards");
            Assert.Equal(shards.Select(s => s.Select(e => e.Index)), Enumerable.Range(0, n).Select(i => ShardSpec.Parse($"{i}/{n}").Select(entries).Select(e => e.Index)));
        }
        Assert.Equal([1, 5, 9], ShardSpec.Parse("1/4").Select(entries.Take(12)).Select(e => e.Index));
        Assert.Equal(new ShardSpec(2, 5), ShardSpec.Parse(" 2 / 5 "));
        Assert.Equal("2/5", new ShardSpec(2, 5).ToString());
    }

    [Theory]
    [InlineData("4/4", "from 0 to 3")]
    [InlineData("1/0", "at least 1")]
    [InlineData("-1/4", "i/n")]
    [InlineData("a/b", "i/n")]
    [InlineData("3", "i/n")]
    public void BadShardSpecsSayWhy(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ShardSpec.Parse(text));
        Assert.Contains(expected, e.Message);
    }
}
