using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Plans <c>prepare begin</c> from the state and the kernel's links, changing nothing: <see cref="PrepareLinks"/>
/// carries the plan out, <c>explain</c> shows it.
/// </summary>
internal static class PreparePlanner
{
    /// <summary>
    /// Looks up the NICs' names and lower devices in one batch, then plans. <paramref name="lease"/>: the lock held on the
    /// state, through which the definitions seen before are read, should a name be held for another domain's definition.
    /// </summary>
    public static PreparePlan Plan(
        ShimSettings settings, LinkTable table, LinkMarker marker, StateReadLease lease, NameState state, DomainDescription domain, long now,
        bool linksUp = true)
    {
        ResolvedLower[] lowers = LowerDevices.ResolveAll(settings, domain);
        var wanted = domain.OwnedNics.Select(n => n.Name).Concat(lowers.Select(l => l.Device))
            .OfType<string>().Where(InterfaceName.IsValid).Distinct(StringComparer.Ordinal).ToList();
        IReadOnlyList<Link?> found = table.Find(wanted);
        var links = new Dictionary<string, Link>(StringComparer.Ordinal);
        for (int i = 0; i < wanted.Count; i++)
        {
            if (found[i] is { } link) links[wanted[i]] = link;
        }
        var lowerLinks = lowers.Select(l => l.Device is { } d && links.TryGetValue(d, out Link link) ? link : (Link?)null).OfType<Link>();
        Dictionary<int, Link> related = LowerDevices.FindRelated(table, LowerDevices.Related(lowerLinks));
        return Plan(lowers, state.Scheme, marker, state, links, related, domain, now,
            held => GoneDefinitions.Frees(settings, lease, held, now), linksUp);
    }

    /// <summary>
    /// The plan from gathered facts: <paramref name="lowers"/> from <see cref="LowerDevices.ResolveAll"/>, and
    /// <paramref name="links"/> holding at least the links on the NICs' names and lower devices, <paramref name="related"/>
    /// at least those <see cref="LowerDevices.Related"/> names for them.
    /// </summary>
    internal static PreparePlan Plan(
        IReadOnlyList<ResolvedLower> lowers, NameScheme scheme, LinkMarker marker, NameState state, IReadOnlyDictionary<string, Link> links,
        IReadOnlyDictionary<int, Link> related, DomainDescription domain, long now, Func<NameRecord, bool> definitionGone, bool linksUp = true)
    {
        var problems = new List<PrepareProblem>();
        var stale = new List<NameRecord>();
        var nics = new List<NicPlan>();
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            void Fail(PrepareCheck check, string message) => problems.Add(new PrepareProblem(check, nic, $"{Describe.Nic(domain, nic)}: {message}"));

            string? lower = lowers[i].Device;
            if (lowers[i].Problem is { } unresolved) problems.Add(new PrepareProblem(PrepareCheck.LowerDevice, nic, unresolved));
            if (!scheme.IsManaged(nic.Name))
                Fail(PrepareCheck.Name, $"target dev is not a libvirt-shim name ({scheme.Prefix}N with N below {scheme.Capacity})");
            if (state.Find(nic.Name) is { } held && !held.IsLink && held.Domain != domain.Uuid)
            {
                if (IsStale(held, now, definitionGone)) stale.Add(held);
                else Fail(PrepareCheck.HeldRecord, $"name is held by {Describe.Holder(held)}");
            }
            Link? lowerLink = lower is not null && links.TryGetValue(lower, out Link l) ? l : null;
            if (lower is not null && lowerLink is null)
                Fail(PrepareCheck.LowerExists, $"lower device {lower} does not exist on this host");
            if (lowerLink is { } device && LowerDevices.Unfit(device, related) is { } unfit)
                problems.Add(new PrepareProblem(PrepareCheck.LowerUnfit, nic, $"{Describe.Nic(domain, nic)}: {unfit.Line}", unfit.Fix));
            Link? existing = links.TryGetValue(nic.Name, out Link e2) ? e2 : null;
            if (existing is { } taken && !marker.IsOwnedBy(taken, domain.Uuid))
                Fail(PrepareCheck.HeldLink, $"name is held by {HolderOf(marker, taken, state)}");
            if (lowerLink is { } carrier && nic.Mtu > carrier.Mtu)
                Fail(PrepareCheck.Mtu, $"mtu {nic.Mtu} is more than lower device {lower} carries (its MTU is {carrier.Mtu})");
            nics.Add(new NicPlan(nic, lower, lowerLink, existing, ActionFor(nic, lowerLink, existing, linksUp)));
        }
        foreach (var twice in nics.Where(p => p.Lower is not null && p.Nic.Mode == MacvtapMode.Passthru).GroupBy(p => p.Lower!)
            .Where(g => g.Count() > 1))
        {
            foreach (NicPlan p in twice.Skip(1))
                problems.Add(new PrepareProblem(PrepareCheck.Passthru, p.Nic,
                    $"{Describe.Nic(domain, p.Nic)}: passthru mode requested twice on lower device {twice.Key}; " +
                        "a device can pass through to one macvtap only"));
        }
        return new PreparePlan(nics, problems, stale);
    }

    /// <summary>
    /// The domain's own link from an earlier prepare is kept when it is as asked (a passthru macvtap has the lower
    /// device's MAC, by the kernel's rule; MTU and allmulticast too) and labelled (its alias is set last, after address
    /// generation was turned off); otherwise replaced, including one a killed prepare left without its alias, or left down
    /// when this prepare brings links up at once (<paramref name="linksUp"/>, as <see cref="LinkStart"/> says).
    /// </summary>
    private static LinkAction ActionFor(OwnedNic nic, Link? lower, Link? existing, bool linksUp)
    {
        if (existing is not { } link) return LinkAction.Create;
        bool sameMac = link.Mac == nic.Mac || nic.Mode == MacvtapMode.Passthru;
        bool sameSettings = (nic.Mtu == 0 || link.Mtu == nic.Mtu) && link.AllMulticast == nic.AllMulticast
            && (nic.Mode != MacvtapMode.Source || Equals(link.SourceMacs, nic.SourceMacs));
        bool asAsked = sameMac && sameSettings && lower is { } l && link.LowerIndex == l.Index && link.Mode == nic.Mode
            && (link.IsUp || !linksUp) && link.Alias is not null;
        return asAsked ? LinkAction.Keep : LinkAction.Replace;
    }

    /// <summary>A record of another domain that no longer holds anything: an expired reservation, or a hold for a definition that is
    /// gone (<see cref="GoneDefinitions"/>).</summary>
    private static bool IsStale(NameRecord held, long now, Func<NameRecord, bool> definitionGone) => held.Holding switch
    {
        Holding.Reserved => held.ExpiresAt <= now,
        Holding.Defined => definitionGone(held),
        _ => false,
    };

    private static string HolderOf(LinkMarker marker, Link link, NameState state)
    {
        NameRecord? record = state.Find(link.Name);
        if (marker.Owner(link) is { } owner)
            return record?.Domain == owner ? Describe.Holder(record) : $"a link libvirt-shim created for domain {owner}";
        return record is { Holding: Holding.Libvirt }
            ? Describe.Holder(record)
            : $"a link libvirt-shim did not create (ifindex {link.Index}, kind {link.Kind ?? "unknown"})";
    }
}
