using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.State;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using Serilog;

namespace LibvirtShim.Session;

/// <summary>What seeding found and did; <see cref="UnreadableStatusFiles"/> are guests whose state is unknown.</summary>
internal sealed record SeedReport(
    NameState State, int RunningDomains, int DefinedDomains, IReadOnlyList<Link> DeletedLinks, IReadOnlyList<string> UnreadableStatusFiles);

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
        ShimSettings settings, LinkTable table, LinkMarker marker, NameScheme scheme, ILogger log, long now, NameState? previous)
    {
        var unreadable = new List<string>();
        var running = DomainInventory.Read(settings.LibvirtRunDir, log, unreadable);
        var defined = DomainInventory.Read(settings.LibvirtConfigDir, log);
        IReadOnlyList<Link> links = table.Dump();
        foreach (string path in unreadable)
            log.Warning("Seeding: status file {Path} exists but cannot be read: that guest counts as unknown, not gone", path);
        bool allFacts = previous is { Skipped.Count: 0 } && unreadable.Count == 0;
        long? keepUntil = allFacts ? null : now + settings.ReservationSeconds;
        var plan = Plan(scheme, marker, previous, running, defined, links, now, keepUntil);
        foreach (NameRecord kept in plan.KeptInDoubt)
            log.Warning("Seeding: kept link {Link} (ifindex {Ifindex}) of domain {Owner}, not seen running: " +
                "its start may be in flight or its status unreadable",
                kept.Name, kept.Ifindex, kept.Domain);
        DeleteLeaked(table, marker, log, plan.Leaked, links);
        return new SeedReport(plan.State, running.Count, defined.Count, plan.Leaked, unreadable);
    }

    internal sealed record SeedPlan(NameState State, List<Link> Leaked, List<NameRecord> KeptInDoubt);

    /// <summary>
    /// The decisions alone, from already gathered facts. <paramref name="keepUntil"/> is null when the facts are
    /// complete (links nobody can own are leaked); otherwise such links are kept, recorded as created until then.
    /// </summary>
    internal static SeedPlan Plan(
        NameScheme scheme, LinkMarker marker, NameState? previous, IReadOnlyDictionary<Guid, DomainDescription> running,
        IReadOnlyDictionary<Guid, DomainDescription> defined, IReadOnlyList<Link> links, long now, long? keepUntil = null)
    {
        var state = new NameState(scheme, previous?.Cursor ?? 0);
        var linkNames = links.ToDictionary(l => l.Index, l => l.Name);
        var linksByName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        var leaked = new List<Link>();
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
            else if (keepUntil is { } until)
            {
                string name = defined.TryGetValue(domain, out DomainDescription? definition) ? definition.Name : before?.DomainName ?? "";
                NameRecord kept = CreatedRecord(link, name, domain, linkNames, null) with { ExpiresAt = until };
                state.Put(kept);
                keptInDoubt.Add(kept);
            }
            else
                leaked.Add(link);
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
                    state.Put(new NameRecord(nic.Name, Holding.Defined, definition.Uuid, definition.Name, nic.Mac, nic.Source ?? "", nic.Mode));
                else if (held is not null && held.Domain == definition.Uuid)
                    state.Put(held with { InDefinitionToo = true });
            }
        }

        foreach (Link link in links)
        {
            if (scheme.IsManaged(link.Name) && !state.IsHeld(link.Name) && !leaked.Contains(link))
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
    /// A domain's leaked links go in one deletion of its group when the group holds nothing else (one RCU grace period
    /// instead of one per link: seeding runs under the lock, and 82 links one by one take seconds); the rest one by one.
    /// </summary>
    private static void DeleteLeaked(LinkTable table, LinkMarker marker, ILogger log, List<Link> leaked, IReadOnlyList<Link> links)
    {
        if (leaked.Count == 0) return;
        var single = new List<Link>();
        foreach (IGrouping<uint, Link> group in leaked.GroupBy(l => l.Group))
        {
            bool wholeGroup = group.Key != 0 && links.Count(l => l.Group == group.Key) == group.Count();
            if (wholeGroup && table.DeleteGroup(group.Key) is null)
            {
                foreach (Link link in group)
                    log.Information("Seeding: deleted leaked link {Link} (ifindex {Ifindex}) of domain {Owner}", link.Name,
                        link.Index, marker.Owner(link));
                continue;
            }
            single.AddRange(group);
        }
        DeleteOneByOne(table, marker, log, single);
    }

    private static void DeleteOneByOne(LinkTable table, LinkMarker marker, ILogger log, List<Link> leaked)
    {
        if (leaked.Count == 0) return;
        IReadOnlyList<NetlinkError?> results = table.Delete(leaked.Select(l => l.Index).ToList());
        for (int i = 0; i < leaked.Count; i++)
        {
            if (results[i] is { } error)
                log.Warning("Seeding: could not delete leaked link {Link} (ifindex {Ifindex}): {Error}", leaked[i].Name,
                    leaked[i].Index, error.Describe());
            else
                log.Information("Seeding: deleted leaked link {Link} (ifindex {Ifindex}) of domain {Owner}", leaked[i].Name,
                    leaked[i].Index, marker.Owner(leaked[i]));
        }
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
