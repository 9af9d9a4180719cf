using LibvirtShim.Net;
using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>
/// One gauge: its name, what it measures, and its samples, each with its label (none: null) and value. A
/// <see cref="Counter"/> only grows (from 0 when what it counts restarted).
/// </summary>
internal sealed record Gauge(string Name, string Help, IReadOnlyList<(GaugeLabel? Label, double Value)> Samples, bool Counter = false);

/// <summary>A sample's one label, as it is named and valued in the metrics.</summary>
internal readonly record struct GaugeLabel(string Name, string Value);

/// <summary>
/// What <c>status --format prometheus</c> reports, figured from the status report: names held, links, lower devices,
/// disagreements by kind (the kinds of <see cref="OutputVocabulary"/>), free names, the state's age. Computed by the admin
/// command from what status gathers; hook calls do nothing for it.
/// </summary>
internal static class StatusMetrics
{
    public static List<Gauge> From(StatusReport report, DateTimeOffset now)
    {
        NameState? state = report.Load.State;
        return
        [
            new("libvirt_shim_state_usable", "1 when the state file was read, 0 when the next call must rebuild it by seeding.",
                [(null, state is null ? 0 : 1)]),
            new("libvirt_shim_state_age_seconds", "Seconds since the state file was last written.",
                report.StateWritten is { } written ? [(null, Math.Max(0, (now - written).TotalSeconds))] : []),
            new("libvirt_shim_names_held", "Names held, by why they are held.",
                Enum.GetValues<Holding>().Select(h => (Label("holding", h.Word()), (double)report.Entries.Count(e => e.Holding == h))).ToList()),
            new("libvirt_shim_capacity_names", "Managed names there are (the Capacity setting).", [(null, report.Scheme.Capacity)]),
            new("libvirt_shim_free_names", "Managed names nobody holds: what allocations can still hand out.",
                [(null, report.Scheme.Capacity - (state?.HeldManagedNames ?? 0))]),
            new("libvirt_shim_links", "Links the kernel has on names held, by lower device.",
                report.Entries.Where(e => e.LinkState != LinkPresence.Absent && e.Lower.Length > 0).GroupBy(e => e.Lower, StringComparer.Ordinal)
                    .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (Label("lower", g.Key), (double)g.Count())).ToList()),
            new("libvirt_shim_lower_device_up", "Whether each lower device names are held on exists and is up.",
                report.Lowers.Select(l => (Label("lower", l.Name), l.Exists && l.IsUp ? 1.0 : 0.0)).ToList()),
            new("libvirt_shim_disagreements", "Disagreements between the state and the kernel, by kind ('libvirt-shim status' says what to do).",
                report.Entries.Where(e => e.Problem?.IsDisagreement() == true).GroupBy(e => e.Problem!.Value.Words().Kind)
                    .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (Label("kind", g.Key), (double)g.Count())).ToList()),
            new("libvirt_shim_names_held_for_gone_definitions",
                "Names held for definitions that are gone (not a disagreement: the next allocation or 'libvirt-shim seed' frees them).",
                [(null, report.HeldForGoneDefinitions)]),
            new("libvirt_shim_expired_reservations",
                "Reservations of a migration or restore that never came (not a disagreement: the next allocation or 'libvirt-shim seed' frees them).",
                [(null, report.ExpiredReservations)]),
            new("libvirt_shim_unrecorded_links", "Links on managed names that no record holds.", [(null, report.Unrecorded.Count)]),
            new("libvirt_shim_guarded_links", "Created links with a guard, by guard.",
                new[] { GuardMode.Mac, GuardMode.Ip }.Select(g => (Label("guard", g.Name()),
                    (double)report.Entries.Count(e => e.Holding == Holding.Created && e.Guard == g))).ToList()),
            new("libvirt_shim_orphan_guards", "Guard tables of domains that run no guest here ('libvirt-shim seed' deletes them).",
                [(null, report.Orphans.Count)]),
            .. Listener(report.Listener),
        ];
    }

    /// <summary>The listener's figures since it started (counters: they restart at 0 with it), while one runs.</summary>
    private static List<Gauge> Listener(ListenerView listener)
    {
        var gauges = new List<Gauge>
        {
            new("libvirt_shim_listener_up", "1 when a listener (libvirt-shim watch) connected to libvirt runs: links follow their guests' vCPUs.",
                [(null, listener.Running ? 1 : 0)]),
        };
        if (listener.Live is not { } m) return gauges;
        gauges.Add(new("libvirt_shim_listener_links_set_total", "Links the listener brought up or down since it started.",
            [(Label("direction", "up"), m.LinksSetUp), (Label("direction", "down"), m.LinksSetDown)], Counter: true));
        gauges.Add(new("libvirt_shim_listener_events_total", "libvirt events the listener handled since it started.", [(null, m.Events)],
            Counter: true));
        gauges.Add(new("libvirt_shim_listener_reconciles_total", "Reconciles of every active guest since the listener started.",
            [(null, m.Reconciles)], Counter: true));
        gauges.Add(new("libvirt_shim_listener_last_reconcile_timestamp_seconds", "When the listener last reconciled every active guest.",
            [(null, m.LastReconcileAt)]));
        gauges.Add(new("libvirt_shim_listener_repairs_total", "Guests whose lost links the listener made again when their uplink came back, by outcome.",
            [(Label("outcome", "repaired"), m.Repairs), (Label("outcome", "failed"), m.RepairFailures)], Counter: true));
        gauges.Add(new("libvirt_shim_listener_announces_total", "Announces (QEMU's RARP, repeated) the listener sent for links it brought up, by outcome.",
            [(Label("outcome", "sent"), m.Announces), (Label("outcome", "failed"), m.AnnounceFailures)], Counter: true));
        gauges.Add(new("libvirt_shim_listener_failures_total", "What the listener could not do (libvirt or the kernel refused) since it started.",
            [(null, m.Failures)], Counter: true));
        return gauges;
    }

    private static GaugeLabel? Label(string name, string value) => new GaugeLabel(name, value);
}
