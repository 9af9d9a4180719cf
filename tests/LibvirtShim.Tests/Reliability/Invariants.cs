using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// What must hold whenever no hook call is under way: the bitmap, the records and the kernel agree. Read from the state
/// file (as the next call would) and from `ip -d -j link` (the kernel's view, independent of the code under test).
/// <list type="bullet">
/// <item>the state file loads (present, valid);</item>
/// <item>bitmap = records: a bit is set exactly for the managed names that have a record;</item>
/// <item>no leaked link: every link carrying libvirt-shim's marks (alias, or its group on an unlabelled macvtap) has a
/// Created record of the same domain with the same ifindex;</item>
/// <item>no name lost: every Created record has its link in the kernel, up, marked for the record's domain;</item>
/// <item>no name held twice: a name's record and the link on that name name the same owner (a dictionary keyed by name
/// cannot hold one name twice; what can go wrong is a record of one domain on another's link).</item>
/// </list>
/// </summary>
internal static class Invariants
{
    private const string AliasPrefix = "libvirt-shim:";
    private const uint GroupFlag = 0x8000_0000;

    /// <summary>Fails the test, saying what disagrees and <paramref name="when"/>; returns the state.</summary>
    public static NameState Hold(HookHarness h, string when, IEnumerable<Guid>? candidates = null) =>
        HoldIn(Look.Take(h), h, when, candidates).State!;

    /// <summary>The same on a look already taken; returns it.</summary>
    public static Look HoldIn(Look look, HookHarness h, string when, IEnumerable<Guid>? candidates = null)
    {
        List<string> problems = Violations(look.State, look.Links, LinkMarker.For(h.Settings), candidates ?? []);
        if (problems.Count > 0)
            Assert.Fail($"{when}: kernel and state disagree:\n  " +
                $"{string.Join("\n  ", problems.Take(20))}{(problems.Count > 20 ? $"\n  ... {problems.Count - 20} more" : "")}");
        return look;
    }

    /// <summary>Each disagreement as one line; empty when everything holds.</summary>
    public static List<string> Violations(NameState? state, IReadOnlyList<IpLink> links, LinkMarker marker, IEnumerable<Guid> candidates)
    {
        if (state is null) return ["the state file is missing or does not load"];
        var problems = new List<string>();
        CheckBitmap(state, problems);
        var known = candidates.Concat(state.Records.Select(r => r.Domain)).Where(d => d != Guid.Empty).ToHashSet();
        var byName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        foreach (IpLink link in links)
        {
            if (!IsMarked(link)) continue;
            Guid? owner = OwnerOf(link, marker, known);
            NameRecord? record = state.Find(link.Name);
            if (record is null)
                problems.Add($"leaked link {link.Name} (ifindex {link.Index}, owner {owner?.ToString() ?? "unknown"}): no record");
            else if (record.Holding != Holding.Created || record.Domain != owner || record.Ifindex != link.Index)
                problems.Add($"link {link.Name} (ifindex {link.Index}, owner {owner}) " +
                    $"recorded as {record.Holding} of {record.Domain} ifindex {record.Ifindex}");
        }
        foreach (NameRecord record in state.Records)
        {
            byName.TryGetValue(record.Name, out IpLink? link);
            switch (record.Holding)
            {
                case Holding.Created when link is null:
                    problems.Add($"record {record.Name} of {record.DomainName} (Created, ifindex {record.Ifindex}): no such link");
                    break;
                case Holding.Created when link.Index != record.Ifindex || OwnerOf(link, marker, known) != record.Domain || !link.IsUp
                    || link.Kind != "macvtap":
                    problems.Add($"record {record.Name} of {record.DomainName} (Created, ifindex {record.Ifindex}): " +
                        $"link is ifindex {link.Index}, owner {OwnerOf(link, marker, known)}, up {link.IsUp}, kind {link.Kind}");
                    break;
                case Holding.Foreign when link is null || IsMarked(link):
                    problems.Add($"record {record.Name} (Foreign): {(link is null ? "no such link" : "the link is libvirt-shim's")}");
                    break;
            }
        }
        return problems;
    }

    /// <summary>The domain's records and marked links; both empty once its release is done.</summary>
    public static void NothingLeftOf(HookHarness h, Guid domain, string when) => NothingLeftOf(Look.Take(h), h, domain, when);

    public static void NothingLeftOf(Look look, HookHarness h, Guid domain, string when)
    {
        var marker = LinkMarker.For(h.Settings);
        var records = look.State!.OfDomain(domain).Select(r => $"{r.Name} ({r.Holding})").ToList();
        var links = look.Links.Where(l => OwnerOf(l, marker, [domain]) == domain).Select(l => $"{l.Name} (ifindex {l.Index})").ToList();
        if (records.Count > 0 || links.Count > 0)
            Assert.Fail($"{when}: domain {domain} still has records [{string.Join(", ", records)}] and links [{string.Join(", ", links)}]");
        var guards = GuardTablesOf(h, domain);
        if (guards.Count > 0) Assert.Fail($"{when}: domain {domain} still has its guard table [{string.Join(", ", guards)}]");
    }

    /// <summary>The netdev tables carrying <paramref name="domain"/>'s marks (its guard), read from the kernel.</summary>
    public static List<string> GuardTablesOf(HookHarness h, Guid domain)
    {
        var marker = LinkMarker.For(h.Settings);
        using LibvirtShim.Netfilter.GuardTables tables = h.Ns.OpenGuardTables();
        return tables.Tables().Where(t => marker.GuardTableOwner(t.Name, t.Comment) == domain).Select(t => t.Name).ToList();
    }

    /// <summary>Every link libvirt-shim did not create, as `ip -d -j link` shows it: what no call may change.</summary>
    public static List<IpLink> NotCreatedByTheHook(IReadOnlyList<IpLink> links) => links.Where(l => !IsMarked(l)).OrderBy(l => l.Index).ToList();

    public static bool IsMarked(IpLink link) =>
        link.Alias?.StartsWith(AliasPrefix, StringComparison.Ordinal) == true || (link.Kind == "macvtap" && (link.GroupNumber & GroupFlag) != 0);

    /// <summary>The domain a marked link belongs to, from its alias, or for an unlabelled one from its group among <paramref
    /// name="candidates"/>.</summary>
    public static Guid? OwnerOf(IpLink link, LinkMarker marker, IEnumerable<Guid> candidates)
    {
        if (link.Alias is { } alias && alias.StartsWith(AliasPrefix, StringComparison.Ordinal))
        {
            string rest = alias[AliasPrefix.Length..];
            int at = rest.IndexOf('@');
            return at > 0 && Guid.TryParse(rest[..at], out Guid d) && rest[(at + 1)..] == marker.Instance
                && marker.Group(d) == link.GroupNumber ? d : null;
        }
        if (link.Alias is null && link.Kind == "macvtap" && (link.GroupNumber & GroupFlag) != 0)
            return candidates.Where(d => marker.Group(d) == link.GroupNumber).Cast<Guid?>().FirstOrDefault();
        return null;
    }

    private static void CheckBitmap(NameState state, List<string> problems)
    {
        NameScheme scheme = state.Scheme;
        int managed = 0;
        for (int index = 0; index < scheme.Capacity; index++)
        {
            bool held = state.IsHeld(scheme.NameOf(index));
            if (held) managed++;
            if (state.IsTaken(index) != held)
                problems.Add($"bitmap bit {index} is {(held ? "clear" : "set")} but {scheme.NameOf(index)} is {(held ? "" : "not ")}recorded");
        }
        if (state.HeldManagedNames != managed)
            problems.Add($"bitmap counts {state.HeldManagedNames} names, records hold {managed} managed names");
    }
}

/// <summary>The state file and the kernel's links, read once, one after the other, while no call runs.</summary>
internal sealed record Look(NameState? State, IReadOnlyList<IpLink> Links)
{
    public static Look Take(HookHarness h) => new(h.ReadState(), h.Ns.Links());
}
