using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>One name as the state and the kernel see it, and what disagrees.</summary>
internal sealed record AuditEntry(
    string Name, string Lower, string DomainName, Guid Domain, MacAddress Mac, MacvtapMode Mode,
    Holding? Holding, int Ifindex, string LinkState, string? Problem);

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
                record.Holding, present ? link.Index : record.Ifindex, LinkState(present, link), Problem(marker, record, present, link, running, now)));
        }
        foreach (Link link in links)
        {
            Guid? owner = marker.OwnerAmong(link, recordedDomains);
            NameRecord? recorded = state.Find(link.Name);
            if (owner is null && (recorded is not null || !LinkMarker.IsUnlabelled(link))) continue;
            if (recorded is { Holding: Holding.Created } r && r.Ifindex == link.Index) continue;
            string lower = byIndex.TryGetValue(link.LowerIndex, out Link l) ? l.Name : "";
            entries.Add(new AuditEntry(link.Name, lower, "", owner ?? Guid.Empty, link.Mac, link.Mode ?? default,
                null, link.Index, LinkState(true, link), owner is null ? UnlabelledUnknown : "leaked link: libvirt-shim's mark, no record"));
        }
        return entries;
    }

    private static string LinkState(bool present, Link link) => !present ? "absent" : link.IsUp ? "up" : "down";

    /// <summary>A macvtap in the hook's group range without an alias whose domain is not known: a prepare killed before marking it.</summary>
    public const string UnlabelledUnknown = "unlabelled link: a prepare was killed before marking it; its domain is not known here";

    public const string Unlabelled = "unlabelled link: a prepare was killed before marking it";

    private static string? Problem(LinkMarker marker, NameRecord record, bool present, Link link, IReadOnlySet<Guid> running, long now) => record.Holding switch
    {
        Holding.Created or Holding.Foreign when present && LinkMarker.IsUnlabelled(link) && marker.IsOwnedBy(link, record.Domain) => Unlabelled,
        Holding.Foreign when present && LinkMarker.IsUnlabelled(link) => UnlabelledUnknown,
        Holding.Created when !present => "missing link",
        Holding.Created when link.Index != record.Ifindex || !marker.IsOwnedBy(link, record.Domain) => "link replaced by someone else",
        Holding.Created when !running.Contains(record.Domain) => "domain not running (start pending, or its release never came)",
        Holding.Libvirt when !running.Contains(record.Domain) => "stale: domain not running",
        Holding.Reserved when record.ExpiresAt <= now => "stale: reservation expired",
        Holding.Reserved or Holding.Defined when present && !marker.IsOwnedBy(link, record.Domain) => "a link someone else made sits on this name",
        _ => null,
    };
}
