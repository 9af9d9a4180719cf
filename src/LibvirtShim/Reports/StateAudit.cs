using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>One name as the state and the kernel see it, and what disagrees.</summary>
internal sealed record AuditEntry(
    string Name, string Lower, string DomainName, Guid Domain, MacAddress Mac, MacvtapMode Mode,
    Holding? Holding, int Ifindex, LinkPresence LinkState, AuditProblem? Problem, GuardMode Guard = GuardMode.Off);

/// <summary>Whether the kernel has a link on the name, and its state.</summary>
internal enum LinkPresence { Absent, Up, Down }

/// <summary>How the state and the kernel can disagree about one name (status and doctor word them: OutputVocabulary).</summary>
internal enum AuditProblem
{
    /// <summary>A created link gone, of a guest that does not run (a stale record).</summary>
    MissingLink,
    /// <summary>A created link gone while its guest runs (its uplink deleted and made again, or the link deleted by hand): repair.</summary>
    LinkLost,
    /// <summary>The same, with its lower device missing: the uplink deleted took the link along.</summary>
    LinkLostWithUplink,
    LinkReplaced,
    /// <summary>A created link of a domain not running, prepared less than ReservationSeconds ago: its start may be in flight.</summary>
    StartPending,
    /// <summary>A created link of a domain not running whose start deadline has passed: its release never came; seeding deletes it.</summary>
    DomainNotRunning,
    StaleLibvirtLink,
    ReservationExpired,
    ForeignLinkOnName,
    LeakedLink,
    /// <summary>A macvtap in the hook's group range without an alias, of a domain the record names: a prepare killed before marking it.</summary>
    Unlabelled,
    /// <summary>The same, of a domain not known here.</summary>
    UnlabelledUnknown,
    /// <summary>
    /// A name held for a definition that is gone: the next allocation or seed frees it. Not a disagreement (no link, nothing to
    /// do): listed, counted apart, and status still agrees.
    /// </summary>
    DefinitionGone,
    /// <summary>A created link of a running guest whose record says it is guarded, with no chain of its domain's table on it.</summary>
    GuardMissing,
    /// <summary>The guest's status file says its vCPUs run, and its link is down: frames for it do not reach it.</summary>
    RunningGuestLinkDown,
}

/// <summary>Compares the records with the kernel's links, the running guests and the definitions.</summary>
internal static class StateAudit
{
    /// <summary>
    /// Whether <paramref name="problem"/> is one the operator must act on (status exits 3 for it): all but the names the next
    /// allocation frees by itself, a gone definition's and an expired reservation's.
    /// </summary>
    public static bool IsDisagreement(this AuditProblem problem) => problem is not (AuditProblem.DefinitionGone or AuditProblem.ReservationExpired);

    /// <param name="definitionGone">Names held for definitions that are gone (<see cref="GoneDefinitions.Find"/>).</param>
    /// <param name="isGuarded">Whether the domain's guard table has a chain hooked to the link of that name; null: not looked at.</param>
    /// <param name="vcpusRun">Those of <paramref name="running"/> whose status file says their vCPUs run
    /// (<see cref="Domain.GuestStates.LinksUp"/>): their links must be up.</param>
    public static List<AuditEntry> Compare(
        NameState state, LinkMarker marker, IReadOnlyList<Link> links, IReadOnlySet<Guid> running, long now,
        IReadOnlySet<string>? definitionGone = null, Func<Guid, string, bool>? isGuarded = null, IReadOnlySet<Guid>? vcpusRun = null)
    {
        var byName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        var byIndex = links.ToDictionary(l => l.Index);
        var entries = new List<AuditEntry>();
        var recordedDomains = state.Records.Select(r => r.Domain).Where(d => d != Guid.Empty).ToHashSet();
        foreach (NameRecord record in state.Records.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            byName.TryGetValue(record.Name, out Link link);
            bool present = link.Name is not null;
            entries.Add(new AuditEntry(record.Name, record.Lower, record.DomainName, record.Domain, record.Mac, record.Mode,
                record.Holding, present ? link.Index : record.Ifindex, LinkState(present, link),
                definitionGone?.Contains(record.Name) == true ? AuditProblem.DefinitionGone
                    : Problem(marker, record, present, link, running, now, isGuarded, vcpusRun, byName.ContainsKey(record.Lower)), record.Guard));
        }
        foreach (Link link in links)
        {
            Guid? owner = marker.OwnerAmong(link, recordedDomains);
            NameRecord? recorded = state.Find(link.Name);
            if (owner is null && (recorded is not null || !LinkMarker.IsUnlabelled(link))) continue;
            if (recorded is { Holding: Holding.Created } r && r.Ifindex == link.Index) continue;
            string lower = byIndex.TryGetValue(link.LowerIndex, out Link l) ? l.Name : "";
            entries.Add(new AuditEntry(link.Name, lower, "", owner ?? Guid.Empty, link.Mac, link.Mode ?? default,
                null, link.Index, LinkState(true, link), owner is null ? AuditProblem.UnlabelledUnknown : AuditProblem.LeakedLink));
        }
        return entries;
    }

    private static LinkPresence LinkState(bool present, Link link) =>
        !present ? LinkPresence.Absent : link.IsUp ? LinkPresence.Up : LinkPresence.Down;

    private static AuditProblem? Problem(
        LinkMarker marker, NameRecord record, bool present, Link link, IReadOnlySet<Guid> running, long now,
        Func<Guid, string, bool>? isGuarded, IReadOnlySet<Guid>? vcpusRun, bool lowerExists) => record.Holding switch
        {
            Holding.Created or Holding.Foreign when present && LinkMarker.IsUnlabelled(link) && marker.IsOwnedBy(link, record.Domain) =>
                AuditProblem.Unlabelled,
            Holding.Foreign when present && LinkMarker.IsUnlabelled(link) => AuditProblem.UnlabelledUnknown,
            Holding.Created when !present && running.Contains(record.Domain) =>
                lowerExists ? AuditProblem.LinkLost : AuditProblem.LinkLostWithUplink,
            Holding.Created when !present => AuditProblem.MissingLink,
            Holding.Created when link.Index != record.Ifindex || !marker.IsOwnedBy(link, record.Domain) => AuditProblem.LinkReplaced,
            Holding.Created when !running.Contains(record.Domain) && record.ExpiresAt > now => AuditProblem.StartPending,
            Holding.Created when !running.Contains(record.Domain) => AuditProblem.DomainNotRunning,
            Holding.Created when record.Guard != GuardMode.Off && isGuarded?.Invoke(record.Domain, record.Name) == false =>
                AuditProblem.GuardMissing,
            Holding.Created when !link.IsUp && vcpusRun?.Contains(record.Domain) == true => AuditProblem.RunningGuestLinkDown,
            Holding.Libvirt when !running.Contains(record.Domain) => AuditProblem.StaleLibvirtLink,
            Holding.Reserved when record.ExpiresAt <= now => AuditProblem.ReservationExpired,
            Holding.Reserved or Holding.Defined when present && !marker.IsOwnedBy(link, record.Domain) => AuditProblem.ForeignLinkOnName,
            _ => null,
        };
}
