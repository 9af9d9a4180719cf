using LibvirtShim.Configuration;
using LibvirtShim.Devices;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using LibvirtShim.State;
using Serilog;

namespace LibvirtShim.Session;

/// <summary>What seeding found and did; <see cref="UnreadableStatusFiles"/> are guests whose state is unknown.</summary>
internal sealed record SeedReport(
    NameState State, int RunningDomains, int DefinedDomains, IReadOnlyList<Link> DeletedLinks, IReadOnlyList<string> UnreadableStatusFiles,
    IReadOnlyList<string>? DeletedGuards = null);

/// <summary>
/// Rebuilds the state from what is really there: the kernel's links (one dump), the status files of running guests
/// and the persistent definitions. The hook's own links are told apart by their marks, not by the old state; the old
/// state, when there is one, only contributes what cannot be seen elsewhere (pending reservations, a prepare whose
/// guest has not started yet). Links of the hook's that no one can own any more are deleted, but only when every
/// fact was there to see: with the old state lost or partly unreadable, or a status file unreadable, a link of a
/// domain not seen running may belong to a start in flight (prepare done, status file not yet written) or to a
/// running guest, and is kept, recorded with an expiry after which a seed with all the facts deletes it.
/// </summary>
internal static class SeedState
{
    public static SeedReport Run(
        ShimSettings settings, LinkTable table, Func<GuardTables> guards, TapNodes taps, LinkMarker marker, NameScheme scheme, ILogger log,
        long now, NameState? previous)
    {
        var unreadable = new List<string>();
        var running = DomainInventory.Read(settings.LibvirtRunDir, log, unreadable);
        var defined = DomainInventory.Read(settings.LibvirtConfigDir, log);
        IReadOnlyList<Link> links = table.Dump();
        foreach (string path in unreadable)
            log.Warning("Seeding: status file {Path} exists but cannot be read: that guest counts as unknown, not gone", path);
        bool allFacts = previous is { Skipped.Count: 0 } && unreadable.Count == 0;
        long? keepUntil = allFacts ? null : now + settings.ReservationSeconds;
        var plan = Plan(scheme, marker, previous, running, defined, links, now, keepUntil,
            nic => LowerDeviceMapping.Local(settings, nic.Source, nic.Network) ?? "");
        foreach (NameRecord kept in plan.KeptInDoubt)
            log.Warning("Seeding: kept link {Link} (ifindex {Ifindex}) of domain {Owner}, not seen running: " +
                "its start may be in flight or its status unreadable",
                kept.Name, kept.Ifindex, kept.Domain);
        List<string> deletedGuards = SeedGuardsIfAny(guards, marker, log, plan.State, running, allFacts);
        List<Link> deleted = DeleteLeaked(table, taps, marker, log, plan.Leaked, links);
        return new SeedReport(plan.State, running.Count, defined.Count, deleted, unreadable, deletedGuards);
    }

    /// <summary>
    /// A host whose kernel has no nf_tables (or refuses the look) has no guards to seed: seeding, which a guest's start may
    /// wait on, goes on without them, with a warning.
    /// </summary>
    private static List<string> SeedGuardsIfAny(
        Func<GuardTables> guards, LinkMarker marker, ILogger log, NameState state, IReadOnlyDictionary<Guid, DomainDescription> running,
        bool allFacts)
    {
        try
        {
            return SeedGuards(guards(), marker, log, state, running, allFacts);
        }
        catch (ShimFailure e)
        {
            log.Warning("Seeding: the guards (nf_tables netdev tables) could not be read, so none was seeded: {Problem}", e.Message);
            return [];
        }
    }

    /// <summary>
    /// The guards, from the kernel's netdev tables that carry this instance's marks: a created link's record gets the guard its
    /// chain says it has; the table of a domain that is neither running nor holding a created link is an orphan (its links are
    /// gone, and a chain outlives its device and would guard the next link of that name), deleted when every fact was seen and
    /// kept, with a warning, otherwise. Returns the tables deleted.
    /// </summary>
    private static List<string> SeedGuards(
        GuardTables guards, LinkMarker marker, ILogger log, NameState state, IReadOnlyDictionary<Guid, DomainDescription> running, bool allFacts)
    {
        var ours = guards.Tables().Select(t => (Table: t, Owner: marker.GuardTableOwner(t.Name, t.Comment)))
            .Where(t => t.Owner is not null).ToList();
        var deleted = new List<string>();
        if (ours.Count == 0) return deleted;
        IReadOnlyList<GuardChain> chains = guards.Chains();
        foreach (NameRecord record in state.Records.Where(r => r.Holding == Holding.Created).ToList())
        {
            string table = marker.GuardTable(record.Domain);
            if (chains.FirstOrDefault(c => c.Table == table && c.Device == record.Name) is { Name: not null } chain
                && GuardRuleset.ModeOf(chain.Comment) is { } mode)
                state.Put(record with { Guard = mode });
        }
        var holding = state.Records.Where(r => r.Holding == Holding.Created).Select(r => r.Domain).ToHashSet();
        foreach ((GuardTable table, Guid? owner) in ours)
        {
            Guid domain = owner!.Value;
            if (running.ContainsKey(domain) || holding.Contains(domain)) continue;
            if (!allFacts)
            {
                log.Warning("Seeding: kept guard table {Table} of domain {Owner}, not seen running: " +
                    "its start may be in flight or its status unreadable", table.Name, domain);
                continue;
            }
            if (GuardLinks.Remove(guards, marker, domain, domain.ToString()) == GuardRemoval.Deleted)
            {
                log.Information("Seeding: deleted guard table {Table} of domain {Owner}, which is not running", table.Name, domain);
                deleted.Add(table.Name);
            }
        }
        return deleted;
    }

    internal sealed record SeedPlan(NameState State, List<LeakedLink> Leaked, List<NameRecord> KeptInDoubt);

    /// <summary>A link of the hook's that nobody can own any more, the domain whose marks it carries, and that domain's name when known.</summary>
    internal sealed record LeakedLink(Link Link, Guid Domain, string DomainName);

    /// <summary>
    /// The decisions alone, from already gathered facts. <paramref name="keepUntil"/> is null when the facts are
    /// complete (links nobody can own are leaked); otherwise such links are kept, recorded as created until then.
    /// <paramref name="lowerOf"/>: the lower device on this host of a NIC a definition holds a name for (Uplinks, Networks
    /// applied), recorded with the hold; its source as written when not given.
    /// </summary>
    internal static SeedPlan Plan(
        NameScheme scheme, LinkMarker marker, NameState? previous, IReadOnlyDictionary<Guid, DomainDescription> running,
        IReadOnlyDictionary<Guid, DomainDescription> defined, IReadOnlyList<Link> links, long now, long? keepUntil = null,
        Func<OwnedNic, string>? lowerOf = null)
    {
        var state = new NameState(scheme, previous?.Cursor ?? 0);
        var linkNames = links.ToDictionary(l => l.Index, l => l.Name);
        var linksByName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        var leaked = new List<LeakedLink>();
        var keptInDoubt = new List<NameRecord>();
        var knownDomains = running.Keys.Concat(defined.Keys)
            .Concat(previous?.Records.Select(r => r.Domain) ?? []).Where(d => d != Guid.Empty).ToHashSet();

        foreach (Link link in links)
        {
            Guid? owner = marker.OwnerAmong(link, knownDomains);
            if (owner is not { } domain) continue;
            NameRecord? before = previous?.Find(link.Name);
            if (running.TryGetValue(domain, out DomainDescription? guest))
                state.Put(CreatedRecord(link, guest.Name, domain, linkNames, before));
            else if (before is { Holding: Holding.Created } && before.Ifindex == link.Index && before.Domain == domain && !ExpiredDoubt(before, now))
                state.Put(before);
            else
            {
                string name = defined.TryGetValue(domain, out DomainDescription? definition) ? definition.Name : before?.DomainName ?? "";
                if (keepUntil is not { } until)
                {
                    leaked.Add(new LeakedLink(link, domain, name));
                    continue;
                }
                NameRecord kept = CreatedRecord(link, name, domain, linkNames, null) with { ExpiresAt = until };
                state.Put(kept);
                keptInDoubt.Add(kept);
            }
        }

        foreach (DomainDescription guest in running.Values)
        {
            foreach (LibvirtMacvtap nic in guest.LibvirtMacvtaps)
            {
                if (nic.Name is null || state.IsHeld(nic.Name)) continue;
                int ifindex = linksByName.TryGetValue(nic.Name, out Link link) ? link.Index : 0;
                if (LibvirtRecord(guest, nic, ifindex) is { } record) state.Put(record);
            }
        }

        foreach (NameRecord record in previous?.Records ?? [])
        {
            bool pending = record.Holding is Holding.Reserved or Holding.Defined && record.ExpiresAt > now;
            if (pending && !state.IsHeld(record.Name) && !linksByName.ContainsKey(record.Name)) state.Put(record);
        }

        foreach (DomainDescription definition in defined.Values)
        {
            foreach (OwnedNic nic in definition.OwnedNics)
            {
                NameRecord? held = state.Find(nic.Name);
                if (held is null && !linksByName.ContainsKey(nic.Name))
                    state.Put(new NameRecord(nic.Name, Holding.Defined, definition.Uuid, definition.Name, nic.Mac,
                        lowerOf?.Invoke(nic) ?? nic.Source ?? "", nic.Mode));
                else if (held is not null && held.Domain == definition.Uuid)
                    state.Put(held with { InDefinitionToo = true });
            }
        }

        foreach (Link link in links)
        {
            if (scheme.IsManaged(link.Name) && !state.IsHeld(link.Name) && !leaked.Any(l => l.Link.Index == link.Index))
                state.Put(new NameRecord(link.Name, Holding.Foreign, Guid.Empty, "", link.Mac, "", link.Mode ?? default, link.Index));
        }
        return new SeedPlan(state, leaked, keptInDoubt);
    }

    /// <summary>A link kept while seeding could not see every fact, whose domain has not been seen running since.</summary>
    private static bool ExpiredDoubt(NameRecord record, long now) => record.ExpiresAt != 0 && record.ExpiresAt <= now && !record.InDefinitionToo;

    private static NameRecord CreatedRecord(Link link, string domainName, Guid domain, Dictionary<int, string> linkNames, NameRecord? before) =>
        new(link.Name, Holding.Created, domain, domainName, link.Mac, linkNames.GetValueOrDefault(link.LowerIndex, ""),
            link.Mode ?? Net.MacvtapMode.Bridge, link.Index, InDefinitionToo: before?.InDefinitionToo ?? false);

    /// <summary>
    /// Each domain's leaked links, through the one deletion policy (a domain's group at once when it holds nothing else:
    /// seeding runs under the lock, and 82 links one by one take seconds), with the dump seeding has just made. A link that
    /// cannot be deleted is logged and left (status shows it; the next seed tries again). The tap nodes the hook made for
    /// them go with them. Returns the links deleted.
    /// </summary>
    private static List<Link> DeleteLeaked(
        LinkTable table, TapNodes taps, LinkMarker marker, ILogger log, List<LeakedLink> leaked, IReadOnlyList<Link> links)
    {
        var deleted = new List<Link>();
        foreach (var domain in leaked.GroupBy(l => l.Domain))
        {
            string name = domain.Select(l => l.DomainName).FirstOrDefault(n => n.Length > 0) ?? domain.Key.ToString("D");
            LinkDeletion deletion = DeleteDomainLinks.Run(table, taps, marker, domain.Key, name, domain.Select(l => l.Link), links);
            foreach (UndeletedLink left in deletion.Failed) log.Warning("Seeding: {Failure}", deletion.LineFor(left));
            foreach (Link link in domain.Select(l => l.Link)
                .Where(l => !deletion.Failed.Any(f => f.Link.Index == l.Index) && !deletion.NotOurs.Any(n => n.Index == l.Index)))
            {
                log.Information("Seeding: deleted leaked link {Link} (ifindex {Ifindex}) of domain {Owner}", link.Name, link.Index, name);
                deleted.Add(link);
            }
        }
        return deleted;
    }

    /// <summary>
    /// The record of libvirt's own macvtap, or null when its name is one the kernel refuses (no link can have it): the
    /// state holds exactly the names the kernel accepts. A lower device name the kernel refuses is not kept.
    /// </summary>
    public static NameRecord? LibvirtRecord(DomainDescription domain, LibvirtMacvtap nic, int ifindex = 0) =>
        nic.Name is { } name && InterfaceName.IsValid(name)
            ? new NameRecord(name, Holding.Libvirt, domain.Uuid, domain.Name, nic.Mac, InterfaceName.IsValid(nic.Lower) ? nic.Lower! : "",
                nic.Mode, ifindex)
            : null;
}
