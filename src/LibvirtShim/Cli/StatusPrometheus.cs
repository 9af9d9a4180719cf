using System.Globalization;
using System.Text;
using LibvirtShim.Lifecycle;
using LibvirtShim.State;
using LibvirtShim.Reports;

namespace LibvirtShim.Cli;

/// <summary>
/// <c>status --format prometheus</c>: the status report as node_exporter's textfile collector reads it (the text
/// exposition format: HELP, TYPE, then samples). Computed by the admin command from what status gathers; hook calls do
/// nothing for it.
/// </summary>
internal static class StatusPrometheus
{
    public const string Format = "prometheus";

    public static void Write(TextWriter output, StatusReport report, DateTimeOffset? stateWritten, DateTimeOffset now)
    {
        var text = new StringBuilder();
        NameState? state = report.Load.State;
        var held = report.Entries.Where(e => e.Problem != AuditProblem.DefinitionGone).ToList();
        Gauge(text, "libvirt_shim_state_usable", "1 when the state file was read, 0 when the next call must rebuild it by seeding.",
            [("", state is null ? 0 : 1)]);
        Gauge(text, "libvirt_shim_state_age_seconds", "Seconds since the state file was last written.",
            stateWritten is { } written ? [("", Math.Max(0, (now - written).TotalSeconds))] : []);
        Gauge(text, "libvirt_shim_names_held", "Names held, by why they are held.",
            Enum.GetValues<Holding>().Select(h => (Label("holding", h.Word()), (double)held.Count(e => e.Holding == h))));
        Gauge(text, "libvirt_shim_capacity_names", "Managed names there are (the Capacity setting).", [("", report.Scheme.Capacity)]);
        Gauge(text, "libvirt_shim_free_names", "Managed names nobody holds: what allocations can still hand out.",
            [("", report.Scheme.Capacity - (state?.HeldManagedNames ?? 0))]);
        Gauge(text, "libvirt_shim_links", "Links the kernel has on names held, by lower device.",
            report.Entries.Where(e => e.LinkState != LinkPresence.Absent && e.Lower.Length > 0).GroupBy(e => e.Lower, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (Label("lower", g.Key), (double)g.Count())));
        Gauge(text, "libvirt_shim_lower_device_up", "Whether each lower device names are held on exists and is up.",
            report.Lowers.Select(l => (Label("lower", l.Name), l.Exists && l.IsUp ? 1.0 : 0.0)));
        var kinds = report.Entries.Where(e => e.Problem is not null).GroupBy(e => e.Problem!.Value.Words().Kind)
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        Gauge(text, "libvirt_shim_disagreements",
            "Disagreements between the state and the kernel, by kind ('libvirt-shim status' says what to do).",
            kinds.Select(g => (Label("kind", g.Key), (double)g.Count())));
        Gauge(text, "libvirt_shim_unrecorded_links", "Links on managed names that no record holds.", [("", report.Unrecorded.Count)]);
        Listener(text, report.Listener);
        output.Write(text.ToString());
    }

    /// <summary>The listener's figures since it started (counters: they restart at 0 with it), while one runs.</summary>
    private static void Listener(StringBuilder text, ListenerView listener)
    {
        Gauge(text, "libvirt_shim_listener_up", "1 when a listener (libvirt-shim watch) connected to libvirt runs: links follow their guests' vCPUs.",
            [("", listener.Running ? 1 : 0)]);
        if (listener.Live is not { } m) return;
        Gauge(text, "libvirt_shim_listener_links_set_total", "Links the listener brought up or down since it started.",
            [(Label("direction", "up"), m.LinksSetUp), (Label("direction", "down"), m.LinksSetDown)], "counter");
        Gauge(text, "libvirt_shim_listener_events_total", "libvirt events the listener handled since it started.", [("", m.Events)], "counter");
        Gauge(text, "libvirt_shim_listener_reconciles_total", "Reconciles of every active guest since the listener started.",
            [("", m.Reconciles)], "counter");
        Gauge(text, "libvirt_shim_listener_last_reconcile_timestamp_seconds", "When the listener last reconciled every active guest.",
            [("", m.LastReconcileAt)]);
        Gauge(text, "libvirt_shim_listener_failures_total", "What the listener could not do (libvirt or the kernel refused) since it started.",
            [("", m.Failures)], "counter");
    }

    private static void Gauge(StringBuilder text, string name, string help, IEnumerable<(string Labels, double Value)> samples, string type = "gauge")
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, value) in samples)
            text.Append(name).Append(labels).Append(' ').Append(value.ToString("0.###", CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>One label, its value escaped as the exposition format asks (backslash, double quote, newline).</summary>
    private static string Label(string name, string value)
    {
        string escaped = value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);
        return $"{{{name}=\"{escaped}\"}}";
    }
}
