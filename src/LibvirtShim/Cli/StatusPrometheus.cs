using System.Globalization;
using System.Text;
using LibvirtShim.Reports;

namespace LibvirtShim.Cli;

/// <summary>
/// <c>status --format prometheus</c>: the status figures (<see cref="StatusMetrics"/>) as node_exporter's textfile
/// collector reads them, the text exposition format: HELP, TYPE, then samples.
/// </summary>
internal static class StatusPrometheus
{
    public const string Format = "prometheus";

    public static void Write(TextWriter output, StatusReport report, DateTimeOffset now)
    {
        var text = new StringBuilder();
        foreach (Gauge gauge in StatusMetrics.From(report, now))
        {
            text.Append("# HELP ").Append(gauge.Name).Append(' ').Append(gauge.Help).Append('\n');
            text.Append("# TYPE ").Append(gauge.Name).Append(gauge.Counter ? " counter\n" : " gauge\n");
            foreach (var (label, value) in gauge.Samples)
                text.Append(gauge.Name).Append(Labels(label)).Append(' ').Append(value.ToString("0.###", CultureInfo.InvariantCulture)).Append('\n');
        }
        output.Write(text.ToString());
    }

    /// <summary>One label, its value escaped as the exposition format asks (backslash, double quote, newline).</summary>
    private static string Labels(GaugeLabel? label)
    {
        if (label is not { } l) return "";
        string escaped = l.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);
        return $"{{{l.Name}=\"{escaped}\"}}";
    }
}
