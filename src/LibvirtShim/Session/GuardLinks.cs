using LibvirtShim.Domain;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;

namespace LibvirtShim.Session;

/// <summary>
/// The guards of a domain's links: one netdev table per domain (named and marked by <see cref="LinkMarker"/>), one base
/// chain per guarded link hooked to its egress, written by <see cref="GuardRuleset"/>. Put in place in one transaction
/// before the links are brought up (prepare; hot-plug and repair of single links), removed with the links (release, a failed
/// prepare's rollback, seeding's orphans, detach). A call whose domain guards nothing never opens the netfilter socket.
/// Every change first proves the table is the domain's (its comment, its name) and is refused if the ruleset changed
/// between that look and the change; a table of that name that is not the domain's is never touched.
/// </summary>
internal static class GuardLinks
{
    private const int MaxAttempts = 4;

    /// <summary>The guards of <paramref name="nics"/> (each NIC's own guard=, else <paramref name="hostDefault"/>), leaving out the unguarded.</summary>
    public static List<LinkGuard> For(IEnumerable<OwnedNic> nics, GuardMode hostDefault) =>
        nics.Select(n => new LinkGuard(n.Name, n.Mac, n.GuardOr(hostDefault), n.Addresses)).Where(g => g.Mode != GuardMode.Off).ToList();

    /// <summary>
    /// Makes <paramref name="guards"/> the domain's whole guard, in one transaction: its table is created, or, when one carrying
    /// the domain's marks is there (an earlier prepare), replaced in the same instant. Throws a failure naming the domain when the
    /// kernel refuses or the table's name is taken by a table that is not the domain's.
    /// </summary>
    public static void Apply(GuardTables tables, LinkMarker marker, Guid domain, string domainName, IReadOnlyList<LinkGuard> guards)
    {
        if (guards.Count == 0) return;
        string name = marker.GuardTable(domain);
        var chains = guards.SelectMany(GuardRuleset.Chains).ToList();
        Refusal? refusal = tables.Install(name, marker.Alias(domain), TableAction.Create, [], chains, generation: null);
        for (int attempt = 1; attempt < MaxAttempts && (refusal is { TableTaken: true } || IsRestart(refusal)); attempt++)
        {
            (GuardTable? found, uint generation) = FindOurs(tables, marker, domain, domainName, name);
            refusal = tables.Install(name, marker.Alias(domain), found is null ? TableAction.Create : TableAction.Replace, [], chains, generation);
        }
        if (refusal is { } refused) throw Refused(domainName, guards, refused);
    }

    /// <summary>
    /// Adds <paramref name="guards"/> to the domain's guard, leaving its other links' as they are (hot-plug, repair): the chains
    /// of those links already there are replaced, in the same transaction.
    /// </summary>
    public static void Add(GuardTables tables, LinkMarker marker, Guid domain, string domainName, IReadOnlyList<LinkGuard> guards)
    {
        if (guards.Count == 0) return;
        string name = marker.GuardTable(domain);
        var chains = guards.SelectMany(GuardRuleset.Chains).ToList();
        Refusal? refusal = null;
        for (int attempt = 0; attempt < MaxAttempts && (attempt == 0 || IsRestart(refusal)); attempt++)
        {
            (GuardTable? found, uint generation) = FindOurs(tables, marker, domain, domainName, name);
            List<string> stale = found is null ? [] : ChainsOf(tables, name, guards.Select(g => g.Link));
            refusal = tables.Install(name, marker.Alias(domain), found is null ? TableAction.Create : TableAction.Keep, stale, chains, generation);
        }
        if (refusal is { } refused) throw Refused(domainName, guards, refused);
    }

    /// <summary>
    /// Deletes the domain's guard table when it carries the domain's marks; a table of that name that is not the domain's is
    /// left alone. Throws a failure naming the domain when the kernel refuses.
    /// </summary>
    public static GuardRemoval Remove(GuardTables tables, LinkMarker marker, Guid domain, string domainName) =>
        Remove(tables, marker, domain, domainName, links: null);

    /// <summary>Deletes the chains of <paramref name="links"/> from the domain's guard table (detach, undoing a hot-plug), leaving the other links' guards.</summary>
    public static GuardRemoval RemoveLinks(GuardTables tables, LinkMarker marker, Guid domain, string domainName, IReadOnlyCollection<string> links) =>
        Remove(tables, marker, domain, domainName, links);

    private static GuardRemoval Remove(GuardTables tables, LinkMarker marker, Guid domain, string domainName, IReadOnlyCollection<string>? links)
    {
        string name = marker.GuardTable(domain);
        for (int attempt = 1; ; attempt++)
        {
            (GuardTable? found, uint generation) = tables.Find(name);
            if (found is not { } table) return GuardRemoval.None;
            if (marker.GuardTableOwner(table.Name, table.Comment) != domain) return GuardRemoval.NotOurs;
            List<string>? chains = links is null ? null : ChainsOf(tables, name, links);
            if (chains is { Count: 0 }) return GuardRemoval.None;
            Refusal? refusal = chains is null ? tables.DeleteTable(name, generation) : tables.DeleteChains(name, chains, generation);
            if (refusal is null) return GuardRemoval.Deleted;
            if (!IsRestart(refusal) || attempt == MaxAttempts)
                throw new ShimFailure($"domain '{domainName}': cannot delete the guard of its NICs{(links is null ? "" : $" {string.Join(", ", links)}")} " +
                    $"(netdev table {name}): netfilter refused {refusal.Value.Describe()}");
        }
    }

    /// <summary>The domain's table and the generation, when the table is the domain's or absent; a failure when another's has the name.</summary>
    private static (GuardTable? Table, uint Generation) FindOurs(GuardTables tables, LinkMarker marker, Guid domain, string domainName, string name)
    {
        (GuardTable? found, uint generation) = tables.Find(name);
        if (found is { } table && marker.GuardTableOwner(table.Name, table.Comment) != domain)
            throw new ShimFailure($"domain '{domainName}': cannot guard its NICs: netdev table {name} exists and is not libvirt-shim's " +
                $"for this domain (its comment is '{Printable.Escape(table.Comment ?? "")}'); delete it if nothing needs it");
        return (found, generation);
    }

    /// <summary>The chains of <paramref name="links"/> that <paramref name="table"/> holds, in the order they can be deleted.</summary>
    private static List<string> ChainsOf(GuardTables tables, string table, IEnumerable<string> links)
    {
        var present = tables.Chains().Where(c => c.Table == table).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        return links.SelectMany(GuardRuleset.ChainNames).Where(present.Contains).ToList();
    }

    private static ShimFailure Refused(string domainName, IReadOnlyList<LinkGuard> guards, Refusal refused) =>
        new($"domain '{domainName}': cannot guard its NICs ({string.Join(", ", guards.Select(g => g.Link))}): netfilter refused {refused.Describe()}");

    /// <summary>The ruleset changed between the look and the change (another program's transaction): look again.</summary>
    private static bool IsRestart(Refusal? refusal) => refusal is { Error.Errno: Errno.ERESTART };
}

/// <summary>What a removal found: no table (or none of the chains), the domain's deleted, or a table of that name that is not ours.</summary>
internal enum GuardRemoval { None, Deleted, NotOurs }
