using LibvirtShim.Domain;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>release end</c>: delete the links the hook created for the domain and drop its records. Only links carrying the
/// domain's marks are deleted, whatever the records or the XML say; when the domain's netdev group holds nothing
/// else, they go in one deletion (one RCU grace period instead of one per link). Idempotent. Names the domain's
/// persistent definition still uses stay held for it.
/// </summary>
internal static class ReleaseLinks
{
    public sealed record Outcome(int Deleted, int RecordsDropped, IReadOnlyList<string> LeftAlone);

    /// <summary>
    /// <paramref name="declaresOwnedNics"/>: the domain's XML hands NICs to the hook, so links carrying its marks are
    /// looked for even without a record of them (a prepare killed before it wrote the state).
    /// </summary>
    public static Outcome Run(ShimSession session, Guid domain, bool declaresOwnedNics)
    {
        List<NameRecord> records = session.State.OfDomain(domain);
        var created = records.Where(r => r.Holding == Holding.Created).ToList();
        var leftAlone = new List<string>();
        int deleted = 0;
        bool lookedAtLinks = created.Count > 0 || declaresOwnedNics;
        if (lookedAtLinks)
        {
            IReadOnlyList<Link> all = session.Context.Links.Dump();
            deleted = DeleteLinks(session.Context, domain, all, created, leftAlone);
            ForgetVanishedForeignLinks(session.State, all);
        }

        HashSet<string> stillDefined = NamesOfDefinition(session.Context, records);
        foreach (NameRecord record in records)
        {
            if (stillDefined.Contains(record.Name))
                session.State.Put(record with { Holding = Holding.Defined, Ifindex = 0, KeptByDefinition = false });
            else
                session.State.Remove(record.Name);
        }
        if (records.Count > 0 || lookedAtLinks) session.Commit();
        return new Outcome(deleted, records.Count, leftAlone);
    }

    /// <summary>Names held for the domain's definition that its definition file (still there after a stop, not after undefine) uses.</summary>
    private static HashSet<string> NamesOfDefinition(ShimContext context, List<NameRecord> records)
    {
        var kept = records.Where(r => r.Holding == Holding.Defined || r.KeptByDefinition).ToList();
        if (kept.Count == 0) return [];
        var pending = kept.Where(r => r.ExpiresAt > context.Now).Select(r => r.Name);
        DomainDescription? definition = DomainInventory.ReadDefinition(context.Settings.LibvirtConfigDir, kept[0].DomainName, kept[0].Domain);
        return (definition?.OwnedNics.Select(n => n.Name) ?? []).Concat(pending).ToHashSet(StringComparer.Ordinal);
    }

    private static int DeleteLinks(ShimContext context, Guid domain, IReadOnlyList<Link> all, List<NameRecord> created, List<string> leftAlone)
    {
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
            if (errors[i] is { } error && error.Errno != Errno.ENODEV)
                throw new ShimException($"cannot delete macvtap {ours[i].Name} (ifindex {ours[i].Index}): {error.Describe()}");
        }
        return ours.Count;
    }

    /// <summary>With the kernel's whole link list at hand anyway, names held only by a foreign link that has gone are freed.</summary>
    private static void ForgetVanishedForeignLinks(NameState state, IReadOnlyList<Link> all)
    {
        var present = all.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (NameRecord gone in state.HeldAs(Holding.Foreign).Where(r => !present.Contains(r.Name)))
            state.Remove(gone.Name);
    }
}
