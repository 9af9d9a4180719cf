using LibvirtShim.Devices;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>release end</c>: delete the links the hook created for the domain and drop its records. Only links carrying the
/// domain's marks are deleted, whatever the records or the XML say: the links on the names the records and the XML
/// give, found in one batched lookup by name, never by listing the host's links (<see cref="DeleteDomainLinks"/>
/// deletes them; the first it cannot delete fails the call, naming the domain and the link). Idempotent. Names the
/// domain's persistent definition still uses stay held for it.
/// </summary>
internal static class ReleaseLinks
{
    public sealed record Outcome(int Deleted, int RecordsDropped, IReadOnlyList<string> LeftAlone);

    /// <summary>
    /// <paramref name="declaredNames"/>: the owned NICs' names in the domain's XML. Links on them carrying the domain's marks
    /// are deleted even without a record of them (a prepare killed before it wrote the state). The domain's guard goes first,
    /// when a record or <paramref name="declaredGuarded"/> (the XML and the Guard setting) says it may have one: the netfilter
    /// socket is opened for guarded domains only.
    /// </summary>
    public static Outcome Run(
        ShimSession session, LinkTable links, Func<GuardTables> guards, TapNodes taps, LinkMarker marker, string libvirtConfigDir, long now,
        Guid domain, string domainName, IReadOnlyCollection<string> declaredNames, bool declaredGuarded)
    {
        List<NameRecord> records = session.State.OfDomain(domain);
        var created = records.Where(r => r.Holding == Holding.Created).ToList();
        var leftAlone = new List<string>();
        int deleted = 0;
        bool lookedAtLinks = created.Count > 0 || declaredNames.Count > 0;
        if (declaredGuarded || created.Any(r => r.Guard != GuardMode.Off))
            GuardLinks.Remove(guards(), marker, domain, domainName);
        if (lookedAtLinks)
        {
            List<NameRecord> foreign = session.State.HeldAs(Holding.Foreign).ToList();
            // A link on a name recorded as foreign may be the domain's too (an unlabelled one seeding could not place).
            Dictionary<string, Link> onNames = DeleteDomainLinks.OnNames(links,
                created.Select(r => r.Name).Concat(declaredNames).Concat(foreign.Select(r => r.Name)));
            LinkDeletion deletion = DeleteDomainLinks.Run(links, taps, marker, domain, domainName, onNames.Values);
            if (deletion.Failure is { } failure) throw failure;
            deleted = deletion.Deleted;
            leftAlone.AddRange(created.Where(r => deletion.NotOurs.Any(l => l.Name == r.Name)).Select(r => r.Name));
            ForgetVanishedForeignLinks(session.State, foreign, onNames);
        }

        HashSet<string> inDefinition = NamesOfDefinition(libvirtConfigDir, records);
        foreach (NameRecord record in records)
        {
            if (inDefinition.Contains(record.Name))
                session.State.Put(record with { Holding = Holding.Defined, Ifindex = 0, InDefinitionToo = false, ExpiresAt = 0 });
            else if (record.IsInDefinition && record.ExpiresAt > now)
                session.State.Put(record with { Holding = Holding.Defined, Ifindex = 0, InDefinitionToo = false });
            else
                session.State.Remove(record.Name);
        }
        if (records.Count > 0 || lookedAtLinks) session.Commit();
        return new Outcome(deleted, records.Count, leftAlone);
    }

    /// <summary>
    /// Names held for the domain's definition that its definition file (still there after a stop, not after undefine) uses:
    /// they stay held for it with no expiry (confirmed by the definition). A hold not yet in the definition keeps its expiry.
    /// Where it cannot be known (the definitions cannot be read), every name held for the definition stays.
    /// </summary>
    private static HashSet<string> NamesOfDefinition(string libvirtConfigDir, List<NameRecord> records)
    {
        var kept = records.Where(r => r.IsInDefinition).ToList();
        if (kept.Count == 0) return [];
        DefinitionRead definition = DomainInventory.ReadDefinition(libvirtConfigDir, kept[0].DomainName, kept[0].Domain);
        if (definition.Lookup == DefinitionLookup.Unknown) return kept.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        return (definition.Domain?.OwnedNics.Select(n => n.Name) ?? []).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Names held only by a foreign link that has gone are freed (looked up in the same batch as the domain's names).</summary>
    private static void ForgetVanishedForeignLinks(NameState state, List<NameRecord> foreign, Dictionary<string, Link> links)
    {
        foreach (NameRecord gone in foreign.Where(r => !links.ContainsKey(r.Name)))
            state.Remove(gone.Name);
    }
}
