using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>
/// What status found: the state (or why there is none), each name beside the kernel, the lower devices, and the hook's
/// links that hold a host address.
/// </summary>
internal sealed record StatusReport(
    string StateDir, string Instance, NameScheme Scheme, StateLoad Load, List<AuditEntry> Entries,
    List<StatusReport.LowerDevice> Lowers, List<StatusReport.UnrecordedLink> Unrecorded, IReadOnlySet<string> Allowed,
    List<ReleaseEntry> LastReleases, IReadOnlyList<string> UnreadableStatusFiles, List<SpeakingLink> Speaking, DateTimeOffset? StateWritten,
    ListenerView Listener, List<StatusReport.OrphanGuard>? OrphanGuards = null)
{
    /// <summary>A netdev table carrying this instance's marks whose domain neither runs here nor holds a created link.</summary>
    internal sealed record OrphanGuard(string Table, Guid Domain);

    public IReadOnlyList<OrphanGuard> Orphans => OrphanGuards ?? [];

    internal sealed record LowerDevice(string Name, int Ifindex, bool Exists, bool IsUp, int Names);

    /// <summary>A link on a managed name that no record holds (the next allocation records it as foreign).</summary>
    internal sealed record UnrecordedLink(string Name, int Ifindex, string Kind, string Lower, MacAddress Mac, string MadeBy);

    /// <summary>Entries whose problem is a disagreement (<see cref="StateAudit.IsDisagreement"/>).</summary>
    public int Problems => Entries.Count(e => e.Problem?.IsDisagreement() == true);

    /// <summary>Names held for definitions that are gone: listed, freed by the next allocation or seed, not a disagreement.</summary>
    public int HeldForGoneDefinitions => Entries.Count(e => e.Problem == AuditProblem.DefinitionGone);

    /// <summary>Reservations of a migration or restore that never came: listed, freed by the next allocation or seed, not a disagreement.</summary>
    public int ExpiredReservations => Entries.Count(e => e.Problem == AuditProblem.ReservationExpired);

    /// <summary>Healthy only when nothing is unknown either: no record skipped, no status file unreadable, no link on a managed name
    /// unrecorded.</summary>
    public bool Agrees => Load.State is { Skipped.Count: 0 } && Problems == 0 && Unrecorded.Count == 0 && UnreadableStatusFiles.Count == 0
        && Speaking.Count == 0 && Orphans.Count == 0;

    public static StatusReport Gather(ShimContext context)
    {
        StateLoad load;
        IReadOnlyList<Link> links;
        List<ReleaseEntry> releases;
        List<NameRecord> definitionGone = [];
        ListenerView listener;
        using (StateReadLease lease = context.Store.LockToRead())
        {
            load = lease.Load(context.Scheme);
            releases = ReleaseHistory.Read(lease);
            links = context.Links.Dump();
            if (load.State is { } held) definitionGone = GoneDefinitions.Find(context.Settings, lease, held, context.Now);
            listener = ListenerView.Look(lease, context.Settings.StateDir);
        }
        List<SpeakingLink> speaking = SpeakingLinks.Find(context.Marker, links, context.Links.Addresses());
        var unreadable = new List<string>();
        var statusFiles = DomainInventory.Read(context.Settings.LibvirtRunDir, context.Log, unreadable);
        var running = statusFiles.Keys.ToHashSet();
        NameState state = load.State ?? new NameState(context.Scheme);
        (IReadOnlyList<GuardTable> tables, HashSet<(string, string)>? hooked) = ReadGuards(context);
        var entries = StateAudit.Compare(state, context.Marker, links, running, context.Now, definitionGone.Select(r => r.Name).ToHashSet(),
            hooked is null ? null : (domain, link) => hooked.Contains((context.Marker.GuardTable(domain), link)), VcpusRun(statusFiles));
        var byName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        var byIndex = links.ToDictionary(l => l.Index);

        var lowers = entries.GroupBy(e => e.Lower, StringComparer.Ordinal).Where(g => g.Key.Length > 0)
            .Select(g => byName.TryGetValue(g.Key, out Link l)
                ? new LowerDevice(g.Key, l.Index, true, l.IsUp, g.Count())
                : new LowerDevice(g.Key, 0, false, false, g.Count()))
            .OrderBy(l => l.Name, StringComparer.Ordinal).ToList();

        var listed = entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var unrecorded = links.Where(l => context.Scheme.IsManaged(l.Name) && !listed.Contains(l.Name))
            .Select(l => new UnrecordedLink(l.Name, l.Index, l.Kind ?? "", byIndex.TryGetValue(l.LowerIndex, out Link lower) ? lower.Name : "",
                l.Mac, MadeBy(l)))
            .OrderBy(l => l.Name, StringComparer.Ordinal).ToList();
        var holding = state.Records.Where(r => r.Holding == Holding.Created).Select(r => r.Domain).ToHashSet();
        var orphans = tables.Select(t => (t.Name, Owner: context.Marker.GuardTableOwner(t.Name, t.Comment)))
            .Where(t => t.Owner is { } owner && !running.Contains(owner) && !holding.Contains(owner))
            .Select(t => new OrphanGuard(t.Name, t.Owner!.Value)).OrderBy(o => o.Table, StringComparer.Ordinal).ToList();
        return new StatusReport(context.Settings.StateDir, context.Marker.Instance, context.Scheme, load, entries, lowers, unrecorded,
            context.Settings.AllowedLowerDevices.ToHashSet(StringComparer.Ordinal), releases, unreadable, speaking,
            load.WrittenAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(load.WrittenAt) : null, listener, orphans);
    }

    /// <summary>The guests whose status file says their vCPUs run: their links must be up.</summary>
    internal static HashSet<Guid> VcpusRun(Dictionary<Guid, Domain.DomainDescription> statusFiles) =>
        statusFiles.Values.Where(d => d.StatusState is { } s && Domain.GuestStates.LinksUp(s) == true).Select(d => d.Uuid).ToHashSet();

    /// <summary>The netdev tables and the (table, device) of each hooked chain; none, and null, when nf_tables cannot be read here.</summary>
    private static (IReadOnlyList<GuardTable> Tables, HashSet<(string, string)>? Hooked) ReadGuards(ShimContext context)
    {
        try
        {
            return (context.Guards.Tables(), context.Guards.Chains().Where(c => c.Device is not null).Select(c => (c.Table, c.Device!)).ToHashSet());
        }
        catch (ShimFailure e)
        {
            context.Log.Warning("status: the guards (nf_tables netdev tables) could not be read: {Problem}", e.Message);
            return ([], null);
        }
    }

    private static string MadeBy(Link link)
    {
        if (LinkMarker.TrySplitAlias(link.Alias, out _, out ReadOnlySpan<char> instance))
            return $"libvirt-shim instance '{instance}'";
        return link.Kind is "macvtap" or "macvlan" ? "not libvirt-shim (libvirt or by hand)" : "not libvirt-shim";
    }
}
