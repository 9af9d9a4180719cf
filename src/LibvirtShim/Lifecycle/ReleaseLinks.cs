using LibvirtShim.Domain;
using LibvirtShim.State;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.Messages;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>release end</c>: delete the links the hook created for the domain and drop its records. Only links carrying the
/// domain's marks are deleted, whatever the records or the XML say: the links on the names the records and the XML
/// give, found in one batched lookup by name, never by listing the host's links (<see cref="DeleteDomainLinks"/>
/// deletes them). Idempotent. Names the domain's persistent definition still uses stay held for it.
/// </summary>
internal static class ReleaseLinks
{
    public sealed record Outcome(int Deleted, int RecordsDropped, IReadOnlyList<string> LeftAlone);

    /// <summary>
    /// <paramref name="declaredNames"/>: the owned NICs' names in the domain's XML. Links on them carrying the domain's marks
    /// are deleted even without a record of them (a prepare killed before it wrote the state).
    /// </summary>
    public static Outcome Run(
        ShimSession session, LinkTable links, LinkMarker marker, string libvirtConfigDir, long now, Guid domain,
        IReadOnlyCollection<string> declaredNames)
    {
        List<NameRecord> records = session.State.OfDomain(domain);
        var created = records.Where(r => r.Holding == Holding.Created).ToList();
        var leftAlone = new List<string>();
        int deleted = 0;
        bool lookedAtLinks = created.Count > 0 || declaredNames.Count > 0;
        if (lookedAtLinks)
        {
            List<NameRecord> foreign = session.State.HeldAs(Holding.Foreign).ToList();
            var names = created.Select(r => r.Name).Concat(declaredNames).Concat(foreign.Select(r => r.Name))
                .Where(InterfaceName.IsValid).Distinct(StringComparer.Ordinal).ToList();
            Dictionary<string, Link> onNames = LinksOnTheirNames(links, names);
            deleted = DeleteLinks(links, marker, domain, onNames, created, leftAlone);
            ForgetVanishedForeignLinks(session.State, foreign, onNames);
        }

        HashSet<string> stillDefined = NamesOfDefinition(libvirtConfigDir, now, records);
        foreach (NameRecord record in records)
        {
            if (stillDefined.Contains(record.Name))
                session.State.Put(record with { Holding = Holding.Defined, Ifindex = 0, InDefinitionToo = false });
            else
                session.State.Remove(record.Name);
        }
        if (records.Count > 0 || lookedAtLinks) session.Commit();
        return new Outcome(deleted, records.Count, leftAlone);
    }

    /// <summary>Names held for the domain's definition that its definition file (still there after a stop, not after undefine) uses.</summary>
    private static HashSet<string> NamesOfDefinition(string libvirtConfigDir, long now, List<NameRecord> records)
    {
        var kept = records.Where(r => r.IsInDefinition).ToList();
        if (kept.Count == 0) return [];
        var pending = kept.Where(r => r.ExpiresAt > now).Select(r => r.Name);
        DomainDescription? definition = DomainInventory.ReadDefinition(libvirtConfigDir, kept[0].DomainName, kept[0].Domain);
        return (definition?.OwnedNics.Select(n => n.Name) ?? []).Concat(pending).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>One batched lookup by name; a link found under another name (an alternative name matched) is not on that name.</summary>
    internal static Dictionary<string, Link> LinksOnTheirNames(LinkTable table, List<string> names)
    {
        IReadOnlyList<Link?> found = table.Find(names);
        var links = new Dictionary<string, Link>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (found[i] is { } link && link.Name == names[i]) links[names[i]] = link;
        }
        return links;
    }

    private static int DeleteLinks(
        LinkTable table, LinkMarker marker, Guid domain, Dictionary<string, Link> links, List<NameRecord> created, List<string> leftAlone)
    {
        var ours = links.Values.Where(l => marker.IsOwnedBy(l, domain)).OrderBy(l => l.Index).ToList();
        leftAlone.AddRange(created.Where(r => links.TryGetValue(r.Name, out Link l) && !marker.IsOwnedBy(l, domain)).Select(r => r.Name));

        (int deleted, List<UndeletedLink> failed) = DeleteDomainLinks.Run(table, marker, domain, ours);
        if (failed.Count > 0 && failed[0] is { Link: var link, Error: var error })
            throw new ShimFailure($"cannot delete macvtap {link.Name} (ifindex {link.Index}): {error.Describe()}");
        return deleted;
    }

    /// <summary>Names held only by a foreign link that has gone are freed (looked up in the same batch as the domain's names).</summary>
    private static void ForgetVanishedForeignLinks(NameState state, List<NameRecord> foreign, Dictionary<string, Link> links)
    {
        foreach (NameRecord gone in foreign.Where(r => !links.ContainsKey(r.Name)))
            state.Remove(gone.Name);
    }
}
