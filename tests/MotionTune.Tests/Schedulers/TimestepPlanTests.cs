using MotionTune.Schedulers;

namespace MotionTune.Tests.Schedulers;

public sealed class TimestepPlanTests
{
    // ModelScope-style leading grid with offset 1 (961 … 1) and CogVideoX-style trailing grid (999 … 39).
    private static readonly long[] Leading = Enumerable.Range(0, 25).Select(i => 961L - 40 * i).ToArray();
    private static readonly long[] Trailing = Enumerable.Range(0, 25).Select(i => 999L - 40 * i).ToArray();

    public static TheoryData<int, int> Windows() => new() { { 700, 0 }, { 1000, 0 }, { 1000, 500 }, { 681, 641 }, { 679, 679 }, { 300, 300 }, { 0, 0 } };

    [Theory]
    [MemberData(nameof(Windows))]
    public void ProbeUsesTheEditedCaptionExactlyInsideTheInclusiveWindow(int tauStart, int tauEnd)
    {
        foreach (var grid in new[] { Leading, Trailing })
        {
            var plan = TimestepPlan.Probe(grid, tauStart, tauEnd, guidanceScale: 9);
            Assert.Equal(grid, plan.Timesteps);
            foreach (var step in plan)
            {
                bool inside = step.Timestep <= tauStart && step.Timestep >= tauEnd;
                Assert.Equal(inside ? PromptChoice.Edited : PromptChoice.Source, step.Prompt);
                Assert.False(step.AdaptersActive);
                Assert.Equal(9, step.GuidanceScale);
            }
        }
        // the bounds are inclusive: a window that is a single grid timestep selects that step
        Assert.Equal([681L], TimestepPlan.Probe(Leading, 681, 681, 9).Where(s => s.Prompt == PromptChoice.Edited).Select(s => s.Timestep));
    }

    [Fact]
    public void ProbeRejectsAWindowWrittenFromItsCleanEnd()
    {
        var e = Assert.Throws<ArgumentException>(() => TimestepPlan.Probe(Leading, 0, 700, 9));
        Assert.Contains("tau_start", e.Message);
        Assert.Throws<ArgumentException>(() => TimestepPlan.Probe(Leading, 700, -1, 9));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(39)]
    [InlineData(700)]
    [InlineData(950)]
    [InlineData(961)]
    [InlineData(999)]
    [InlineData(1000)]
    public void CustomizedPlanTurnsAdaptersOnExactlyForTAtLeastTau(int tau)
    {
        foreach (var grid in new[] { Leading, Trailing })
        {
            var plan = TimestepPlan.Customized(grid, tau, guidanceScale: 6);
            foreach (var step in plan)
            {
                Assert.Equal(step.Timestep >= tau, step.AdaptersActive);
                Assert.Equal(PromptChoice.Source, step.Prompt);
            }
        }
        Assert.False(TimestepPlan.Customized(Trailing, 1000, 6).UsesAdapters); // τ = 1000 is the base model
        Assert.True(TimestepPlan.Customized(Leading, 0, 6).All(s => s.AdaptersActive)); // τ = 0 tunes every step
    }

    [Fact]
    public void PlainPlanAndValidation()
    {
        var plain = TimestepPlan.Plain(Leading, 1);
        Assert.False(plain.UsesGuidance || plain.UsesAdapters || plain.UsesEditedPrompt);
        Assert.Equal(25, plain.Count);
        Assert.Throws<ArgumentException>(() => TimestepPlan.Plain([1L, 5L], 7));
        Assert.Throws<ArgumentException>(() => TimestepPlan.Plain([], 7));
        Assert.Throws<ArgumentException>(() => TimestepPlan.Plain([5L], double.NaN));
        Assert.Equal("25 steps 961→1, guidance 9; c′ at 681→1", TimestepPlan.Probe(Leading, 700, 0, 9).ToString());
        Assert.Equal("25 steps 999→39, guidance 6; adapters at 999→959", TimestepPlan.Customized(Trailing, 950, 6).ToString());
    }
}
