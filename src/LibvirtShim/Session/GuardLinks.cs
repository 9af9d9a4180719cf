using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.State;

namespace LibvirtShim.Session;

/// <summary>
/// The guards of a domain's links: one netdev table per domain (named and marked by <see cref="LinkMarker"/>), one base
/// chain per guarded link hooked to its egress, written by <see cref="GuardRuleset"/>. Put in place in one transaction
/// before the links are brought up (prepare; hot-plug and repair, as the domain's whole guard), removed with the links
/// (release, a failed prepare's rollback, seeding's orphans; detach puts the rest in place). A call whose domain guards
/// nothing never opens the netfilter socket.
/// Every change first proves the table is the domain's (its comment, its name) and is refused if the ruleset changed
/// between that look and the change; a table of that name that is not the domain's is never touched.
/// </summary>
internal static class GuardLinks
{
    private const int MaxAttempts = 4;

    /// <summary>
    /// The guards of <paramref name="nics"/> (each NIC's own guard=, else <paramref name="hostDefault"/>), leaving out the unguarded.
    /// </summary>
    public static List<LinkGuard> For(IEnumerable<OwnedNic> nics, GuardMode hostDefault) =>
        nics.Select(n => new LinkGuard(n.Name, n.Mac, n.GuardOr(hostDefault), n.Addresses)).Where(g => g.Mode != GuardMode.Off).ToList();

    /// <summary>
    /// The guards in force on a running domain's <paramref name="nics"/>: the mode its created links were given (their records),
    /// else as <see cref="For"/> decides. A NIC plugged or unplugged leaves the others' guards as they were, whatever the
    /// Guard setting says now.
    /// </summary>
    public static List<LinkGuard> InForce(IEnumerable<OwnedNic> nics, NameState state, Guid domain, GuardMode hostDefault) =>
        For(nics.Select(n => state.Find(n.Name) is { Holding: Holding.Created } record && record.Domain == domain
            ? n with { Guard = record.Guard } : n), hostDefault);

    /// <summary>
    /// Makes <paramref name="guards"/> the domain's whole guard, in one transaction: its table is created, or, when one carrying
    /// the domain's marks is there (an earlier prepare; a NIC plugged or unplugged), replaced in the same instant, so that the
    /// links it keeps are never unguarded. No guard at all removes the table. Throws a failure naming the domain when the
    /// kernel refuses or the table's name is taken by a table that is not the domain's.
    /// </summary>
    public static void Apply(GuardTables tables, LinkMarker marker, Guid domain, string domainName, IReadOnlyList<LinkGuard> guards)
    {
        if (guards.Count == 0)
        {
            Remove(tables, marker, domain, domainName);
            return;
        }
        string name = marker.GuardTable(domain);
        TableSpec content = GuardRuleset.Table(guards);
        Refusal? refusal = tables.Install(name, marker.Alias(domain), replace: false, content, generation: null);
        for (int attempt = 1; attempt < MaxAttempts && (refusal is { TableTaken: true } || IsRestart(refusal)); attempt++)
        {
            (GuardTable? found, uint generation) = FindOurs(tables, marker, domain, domainName, name);
            refusal = tables.Install(name, marker.Alias(domain), replace: found is not null, content, generation);
        }
        if (refusal is { } refused)
            throw new ShimFailure($"domain '{domainName}': cannot guard its NICs ({string.Join(", ", guards.Select(g => g.Link))}): " +
                $"netfilter refused {refused.Describe()}");
    }

    /// <summary>
    /// Deletes the domain's guard table when it carries the domain's marks; a table of that name that is not the domain's is
    /// left alone. Throws a failure naming the domain when the kernel refuses.
    /// </summary>
    public static GuardRemoval Remove(GuardTables tables, LinkMarker marker, Guid domain, string domainName)
    {
        string name = marker.GuardTable(domain);
        for (int attempt = 1; ; attempt++)
        {
            (GuardTable? found, uint generation) = tables.Find(name);
            if (found is not { } table) return GuardRemoval.None;
            if (marker.GuardTableOwner(table.Name, table.Comment) != domain) return GuardRemoval.NotOurs;
            Refusal? refusal = tables.DeleteTable(name, generation);
            if (refusal is null) return GuardRemoval.Deleted;
            if (!IsRestart(refusal) || attempt == MaxAttempts)
                throw new ShimFailure($"domain '{domainName}': cannot delete the guard of its NICs (netdev table {name}): " +
                    $"netfilter refused {refusal.Value.Describe()}");
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

    /// <summary>The ruleset changed between the look and the change (another program's transaction): look again.</summary>
    private static bool IsRestart(Refusal? refusal) => refusal is { Error.Errno: Errno.ERESTART };
}

/// <summary>What a removal found: no table, the domain's deleted, or a table of that name that is not ours.</summary>
internal enum GuardRemoval { None, Deleted, NotOurs }
