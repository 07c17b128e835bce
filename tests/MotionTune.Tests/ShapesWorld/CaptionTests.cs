using MotionTune.ShapesWorld;

namespace MotionTune.Tests.ShapesWorld;

public sealed class CaptionTests
{
    [Fact]
    public void CaptionsFollowTheTemplate()
    {
        Assert.Equal("a red circle moving left on a white background",
            Captions.Describe(new Appearance("circle", "red", "white"), MotionLibrary.Get("left")));
        Assert.Equal("an orange star on a checkered background", Captions.Describe(new Appearance("star", "orange", "checkered")));
        Assert.Equal("a blue square moving in a clockwise circle on a gray background",
            Captions.Describe(new Appearance("square", "blue", "gray"), MotionLibrary.Get("clockwise")));
    }

    [Fact]
    public void EveryCaptionParsesBackToItsContent()
    {
        foreach (var appearance in ShapesDataset.Appearances(DatasetSplit.Train).Concat(ShapesDataset.Appearances(DatasetSplit.HeldOut)))
        {
            Assert.Equal(new CaptionContent(appearance, null), Captions.Parse(Captions.Describe(appearance)));
            foreach (var motion in MotionLibrary.All)
                Assert.Equal(new CaptionContent(appearance, motion.Name), Captions.Parse(Captions.Describe(appearance, motion)));
        }
    }

    [Fact]
    public void TheVocabularyCoversEveryCaption()
    {
        var dataset = new ShapesDataset();
        var words = dataset.Items(0, 300).SelectMany(i => i.Caption.Split(' ')).Distinct().ToArray();
        Assert.Empty(words.Except(Captions.Vocabulary));
        Assert.Equal(Captions.Vocabulary.Count, Captions.Vocabulary.Distinct().Count());
    }

    [Fact]
    public void ParsingToleratesCaseSpacesAndAFullStop()
    {
        var content = Captions.Parse("  A Green  Triangle bouncing on a STRIPED background. ");
        Assert.Equal(new CaptionContent(new Appearance("triangle", "green", "striped"), "bouncing"), content);
    }

    [Theory]
    [InlineData("a red circle", "not a ShapesWorld caption")]
    [InlineData("a mauve circle on a white background", "unknown colour 'mauve'")]
    [InlineData("a red hexagon on a white background", "unknown shape 'hexagon'")]
    [InlineData("a red circle on a plaid background", "unknown background 'plaid'")]
    [InlineData("a red circle dancing on a white background", "unknown motion 'dancing'")]
    public void BadCaptionsAreNamed(string caption, string message)
    {
        var error = Assert.Throws<FormatException>(() => Captions.Parse(caption));
        Assert.Contains(message, error.Message);
        Assert.Null(Captions.TryParse(caption));
    }
}
