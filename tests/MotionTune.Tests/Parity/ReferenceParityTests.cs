using System.Reflection;
using Xunit.Abstractions;

namespace MotionTune.Tests.Parity;

/// <summary>Marks a class that checks fixture cases of one <c>kind</c>; it needs a public parameterless constructor.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class ParityKindAttribute(string kind) : Attribute
{
    /// <summary>The case.json kind handled.</summary>
    public string Kind { get; } = kind;
}

/// <summary>Checks one fixture case against our implementation.</summary>
public interface IParityCheck
{
    /// <summary>Runs the comparison; throws (an assertion) on mismatch. Writes what it measured to <paramref name="output"/>.</summary>
    void Run(FixtureCase fixture, ITestOutputHelper output);
}

/// <summary>
/// One test per fixture case folder under the fixture root, dispatched on case.json's kind. A case whose kind has no
/// check fails, so a new fixture can't pass unnoticed.
/// </summary>
[Trait("Category", "Parity")]
public sealed class ReferenceParityTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, Type> Checks = typeof(ReferenceParityTests).Assembly.GetTypes()
        .SelectMany(t => t.GetCustomAttributes<ParityKindAttribute>().Select(a => (a.Kind, Type: t)))
        .ToDictionary(x => x.Kind, x => x.Type);

    /// <summary>Every case folder's name.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var name in Fixtures.CaseNames()) data.Add(name);
        return data;
    }

    /// <summary>Runs the check for one case folder.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string caseFolder)
    {
        using var fixture = Fixtures.Open(caseFolder);
        Assert.True(Checks.TryGetValue(fixture.Kind, out var type),
            $"{caseFolder}: no parity check handles kind '{fixture.Kind}'.");
        var check = (IParityCheck)Activator.CreateInstance(type!)!;
        check.Run(fixture, output);
    }
}
