using Xunit.Sdk;
using Xunit.v3;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>Scenario classes run in the order of their names (S1..., S2..., ...), so timings read in the order.</summary>
public sealed class ByNameClassOrderer : ITestClassOrderer
{
    public IReadOnlyCollection<TTestClass?> OrderTestClasses<TTestClass>(IReadOnlyCollection<TTestClass?> testClasses)
        where TTestClass : ITestClass =>
        testClasses.OrderBy(c => c?.TestClassName ?? "", StringComparer.Ordinal).ToList();
}

/// <summary>Tests within a scenario class run in the order of their names.</summary>
public sealed class ByNameMethodOrderer : ITestMethodOrderer
{
    public IReadOnlyCollection<TTestMethod?> OrderTestMethods<TTestMethod>(IReadOnlyCollection<TTestMethod?> testMethods)
        where TTestMethod : ITestMethod =>
        testMethods.OrderBy(m => m?.MethodName ?? "", StringComparer.Ordinal).ToList();
}
