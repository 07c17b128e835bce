namespace MotionTune.Tests;

/// <summary>
/// Tests that need the process-wide random generator to themselves (e.g. to replay dropout masks after
/// <c>manual_seed</c>) join this collection; it never runs in parallel with other tests, which draw from the
/// same generator.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRandomCollection
{
    /// <summary>The collection's name, for <c>[Collection(GlobalRandomCollection.Name)]</c>.</summary>
    public const string Name = "global random generator";
}
