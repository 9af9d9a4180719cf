using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>One name as the state and the kernel see it, and what disagrees.</summary>
internal sealed record AuditEntry(
    string Name, string Lower, string DomainName, Guid Domain, MacAddress Mac, MacvtapMode Mode,
    Holding? Holding, int Ifindex, string LinkState, AuditProblem? Problem);

/// <summary>How the state and the kernel can disagree about one name.</summary>
internal enum AuditProblem { MissingLink, LinkReplaced, DomainNotRunning, StaleLibvirtLink, ReservationExpired, ForeignLinkOnName, LeakedLink }

internal static class AuditProblems
{
    /// <summary>What <c>status</c> and <c>doctor</c> say of each problem, and what to do about it (NAME: the link's name).</summary>
    public static (string Text, string Advice) Describe(this AuditProblem problem) => problem switch
    {
        AuditProblem.MissingLink => ("missing link",
            "the guest's NIC has no device: restart the guest; 'libvirt-shim seed' forgets the record"),
        AuditProblem.LinkReplaced => ("link replaced by someone else",
            "another link took the name: 'ip -d link show NAME' shows it; 'libvirt-shim seed' records it as foreign"),
        AuditProblem.DomainNotRunning => ("domain not running (start pending, or its release never came)",
            "unless the guest is starting now, 'libvirt-shim seed' deletes the link and frees the name"),
        AuditProblem.StaleLibvirtLink => ("stale: domain not running",
            "libvirt's own macvtap of a guest that stopped: 'libvirt-shim seed' forgets it"),
        AuditProblem.ReservationExpired => ("stale: reservation expired",
            "a migration or restore that never came: the next allocation or 'libvirt-shim seed' frees the name"),
        AuditProblem.ForeignLinkOnName => ("a link someone else made sits on this name",
            "the domain cannot start with this name: delete that link ('ip link del NAME') or give the NIC another name"),
        AuditProblem.LeakedLink => ("leaked link: libvirt-shim's mark, no record", "'libvirt-shim seed' deletes it"),
        _ => throw new ArgumentOutOfRangeException(nameof(problem), problem, null),
    };
}

/// <summary>Compares the records with the kernel's links and the running guests.</summary>
internal static class StateAudit
{
    public static List<AuditEntry> Compare(NameState state, LinkMarker marker, IReadOnlyList<Link> links, IReadOnlySet<Guid> running, long now)
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
                Problem(marker, record, present, link, running, now)));
        }
        foreach (Link link in links)
        {
            Guid? owner = marker.OwnerAmong(link, recordedDomains);
            if (owner is null) continue;
            if (state.Find(link.Name) is { Holding: Holding.Created } r && r.Ifindex == link.Index) continue;
            string lower = byIndex.TryGetValue(link.LowerIndex, out Link l) ? l.Name : "";
            entries.Add(new AuditEntry(link.Name, lower, "", owner.Value, link.Mac, link.Mode ?? default,
                null, link.Index, LinkState(true, link), AuditProblem.LeakedLink));
        }
        return entries;
    }

    private static string LinkState(bool present, Link link) => !present ? "absent" : link.IsUp ? "up" : "down";

    private static AuditProblem? Problem(
        LinkMarker marker, NameRecord record, bool present, Link link, IReadOnlySet<Guid> running, long now) => record.Holding switch
    {
        Holding.Created when !present => AuditProblem.MissingLink,
        Holding.Created when link.Index != record.Ifindex || !marker.IsOwnedBy(link, record.Domain) => AuditProblem.LinkReplaced,
        Holding.Created when !running.Contains(record.Domain) => AuditProblem.DomainNotRunning,
        Holding.Libvirt when !running.Contains(record.Domain) => AuditProblem.StaleLibvirtLink,
        Holding.Reserved when record.ExpiresAt <= now => AuditProblem.ReservationExpired,
        Holding.Reserved or Holding.Defined when present && !marker.IsOwnedBy(link, record.Domain) => AuditProblem.ForeignLinkOnName,
        _ => null,
    };
}
