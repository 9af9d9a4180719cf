using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>release end</c>: delete the links the hook created for the domain and drop its records. Only links carrying the
/// domain's marks are deleted, whatever the records or the XML say; when the domain's netdev group holds nothing
/// else, they go in one deletion (one RCU grace period instead of one per link). Idempotent.
/// </summary>
internal static class ReleaseLinks
{
    private const int NoSuchDevice = 19;

    public sealed record Outcome(int Deleted, int RecordsDropped, IReadOnlyList<string> LeftAlone);

    public static Outcome Run(ShimSession session, Guid domain)
    {
        List<NameRecord> records = session.State.OfDomain(domain);
        var created = records.Where(r => r.Holding == Holding.Created).ToList();
        var leftAlone = new List<string>();
        int deleted = created.Count == 0 ? 0 : DeleteLinks(session.Context, domain, created, leftAlone);

        foreach (NameRecord record in records)
        {
            if (record.Holding == Holding.Defined || record.KeptByDefinition)
                session.State.Put(record with { Holding = Holding.Defined, Ifindex = 0, ExpiresAt = 0 });
            else
                session.State.Remove(record.Name);
        }
        if (records.Count > 0) session.Commit();
        return new Outcome(deleted, records.Count, leftAlone);
    }

    private static int DeleteLinks(ShimContext context, Guid domain, List<NameRecord> created, List<string> leftAlone)
    {
        IReadOnlyList<Link> all = context.Links.Dump();
        LinkMarker marker = context.Marker;
        var ours = all.Where(l => marker.IsOwnedBy(l, domain)).ToList();
        var recordedNames = created.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        leftAlone.AddRange(all.Where(l => recordedNames.Contains(l.Name) && !marker.IsOwnedBy(l, domain)).Select(l => l.Name));
        if (ours.Count == 0) return 0;

        uint group = marker.Group(domain);
        bool groupIsOurs = all.Where(l => l.Group == group).All(l => marker.IsOwnedBy(l, domain));
        if (groupIsOurs && context.Links.DeleteGroup(group) is null) return ours.Count;

        IReadOnlyList<NetlinkError?> errors = context.Links.Delete(ours.Select(l => l.Index).ToList());
        for (int i = 0; i < ours.Count; i++)
        {
            if (errors[i] is { } error && error.Errno != NoSuchDevice)
                throw new ShimException($"cannot delete macvtap {ours[i].Name} (ifindex {ours[i].Index}): {error.Describe()}");
        }
        return ours.Count;
    }
}
