using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace LibvirtShim.Benchmarks.Support;

/// <summary>
/// Median beside the mean, declared order, results under BENCH_ARTIFACTS. Program.cs always adds --inProcess: no
/// generated project is built (nothing touches src/LibvirtShim/obj while other builds run), and the naming
/// benchmarks' set-up moves the benchmark thread into its network namespace.
/// </summary>
internal static class BenchConfig
{
    public static IConfig Create(string artifacts) => ManualConfig.Create(DefaultConfig.Instance)
        .AddColumn(StatisticColumn.Median)
        .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared, MethodOrderPolicy.Declared))
        .WithArtifactsPath(artifacts)
        .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
}

/// <summary>Adds the median per name to the naming benchmarks (an operation names <c>Names</c> NICs).</summary>
public sealed class PerNameConfig : ManualConfig
{
    public PerNameConfig() => AddColumn(new PerNameColumn());
}

internal sealed class PerNameColumn : IColumn
{
    public string Id => nameof(PerNameColumn);
    public string ColumnName => "Median per name";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Statistics;
    public int PriorityInCategory => 10;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Time;
    public string Legend => "Median time of one operation divided by the names it hands out (Names)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (summary[benchmarkCase]?.ResultStatistics is not { } statistics) return "NA";
        int names = Convert.ToInt32(benchmarkCase.Parameters["Names"], CultureInfo.InvariantCulture);
        return Format(statistics.Median / names);
    }

    public static string Format(double nanoseconds) => nanoseconds switch
    {
        < 1_000 => nanoseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ns",
        < 1_000_000 => (nanoseconds / 1_000).ToString("0.00", CultureInfo.InvariantCulture) + " μs",
        _ => (nanoseconds / 1_000_000).ToString("0.00", CultureInfo.InvariantCulture) + " ms",
    };

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
