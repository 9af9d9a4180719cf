using LibvirtShim.Devices;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Session;

/// <summary>A link the deletion could not delete, and the kernel's answer.</summary>
internal readonly record struct UndeletedLink(Link Link, NetlinkError Error);

/// <summary>
/// What <see cref="DeleteDomainLinks.Run"/> did: how many links went, the candidates it left alone because they do not
/// carry the domain's marks, and the ones the kernel would not delete.
/// </summary>
internal sealed record LinkDeletion(string DomainName, int Deleted, IReadOnlyList<Link> NotOurs, IReadOnlyList<UndeletedLink> Failed)
{
    /// <summary>The one line for a link that could not be deleted, naming the domain, the link and the kernel's answer.</summary>
    public string LineFor(UndeletedLink left) =>
        $"domain '{DomainName}': cannot delete macvtap {left.Link.Name} (ifindex {left.Link.Index}): {left.Error.Describe()}";

    /// <summary>The first link that could not be deleted, as the failure a caller throws; null when every one went.</summary>
    public ShimFailure? Failure => Failed.Count == 0 ? null
        : new ShimFailure(LineFor(Failed[0]), $"look at it with 'ip -d link show {Failed[0].Link.Name}', delete it by hand, and retry");
}

/// <summary>
/// The one way a domain's links are deleted (release, a failed prepare's rollback, a link prepare replaces, detach, a
/// hot-plug undone, seeding's leaked links). Of the links given, only those carrying the domain's marks are deleted.
/// Several go in one deletion of the domain's netdev group (one RCU grace period instead of one per link), but only after
/// a dump has shown that the group holds exactly those links, nothing else; otherwise, and for a single link, they go
/// one by one, by ifindex. A link already gone counts as deleted. The tap nodes the hook made for deleted links go with
/// them (<see cref="TapNodes"/>: devtmpfs removes only its own), read before the deletion while sysfs still shows them.
/// </summary>
/// <remarks>
/// The group check cannot be narrowed by the kernel: a strict-checking link dump (rtnl_dump_ifinfo) filters by
/// IFLA_MASTER and by IFLA_LINKINFO kind only, and a group deletion deletes members of every kind, so a kind filter would
/// prove nothing. IFLA_EXT_MASK cannot shrink the answers either (a macvtap's RTM_NEWLINK keeps IFLA_STATS64 and
/// IFLA_AF_SPEC). So the dump is paid only when it saves grace periods, and of the other links only IFLA_GROUP is read.
/// </remarks>
internal static class DeleteDomainLinks
{
    /// <summary>
    /// Up to this many links go by ifindex without the group check: one link by ifindex costs what the group costs (one
    /// grace period), while the check is a dump of every link of the host (bench/RESULTS.md, host size).
    /// </summary>
    private const int MaxWithoutGroupCheck = 1;

    /// <summary>
    /// Deletes those of <paramref name="candidates"/> that carry <paramref name="domain"/>'s marks. <paramref name="dump"/>:
    /// every link of the host as the caller has just dumped them (seeding), spared a dump of its own for the group check.
    /// </summary>
    public static LinkDeletion Run(
        LinkTable links, TapNodes taps, LinkMarker marker, Guid domain, string domainName, IEnumerable<Link> candidates,
        IReadOnlyList<Link>? dump = null)
    {
        var ours = new List<Link>();
        var notOurs = new List<Link>();
        foreach (Link link in candidates.DistinctBy(l => l.Index).OrderBy(l => l.Index))
            (marker.IsOwnedBy(link, domain) ? ours : notOurs).Add(link);
        if (ours.Count == 0) return new LinkDeletion(domainName, 0, notOurs, []);
        List<(int, DeviceNumber)> nodes = NodesOf(taps, ours);
        if (ours.Count > MaxWithoutGroupCheck && DeleteGroup(links, marker, domain, ours, dump))
        {
            TakeBack(taps, nodes, new HashSet<int>());
            return new LinkDeletion(domainName, ours.Count, notOurs, []);
        }

        IReadOnlyList<NetlinkError?> errors = links.Delete(ours.Select(l => l.Index).ToList());
        var failed = new List<UndeletedLink>();
        for (int i = 0; i < ours.Count; i++)
        {
            if (errors[i] is { } error && error.Errno != Errno.ENODEV) failed.Add(new UndeletedLink(ours[i], error));
        }
        TakeBack(taps, nodes, failed.Select(f => f.Link.Index).ToHashSet());
        return new LinkDeletion(domainName, ours.Count - failed.Count, notOurs, failed);
    }

    /// <summary>The links on these names, found in one batched lookup; a link found under another name (an alternative name) is not on it.</summary>
    public static Dictionary<string, Link> OnNames(LinkTable table, IEnumerable<string> names)
    {
        var valid = names.Where(InterfaceName.IsValid).Distinct(StringComparer.Ordinal).ToList();
        IReadOnlyList<Link?> found = valid.Count > 0 ? table.Find(valid) : [];
        var links = new Dictionary<string, Link>(StringComparer.Ordinal);
        for (int i = 0; i < valid.Count; i++)
        {
            if (found[i] is { } link && link.Name == valid[i]) links[valid[i]] = link;
        }
        return links;
    }

    /// <summary>
    /// The domain's whole group in one request, when a dump shows it holds exactly <paramref name="ours"/>, each with the
    /// domain's marks; false when it holds anything else (or the kernel refuses).
    /// </summary>
    private static bool DeleteGroup(LinkTable links, LinkMarker marker, Guid domain, List<Link> ours, IReadOnlyList<Link>? dump)
    {
        uint group = marker.Group(domain);
        IReadOnlyList<Link> members = dump?.Where(l => l.Group == group).ToList() ?? links.DumpGroup(group);
        var mine = ours.Select(l => l.Index).ToHashSet();
        if (members.Count != mine.Count || !members.All(l => mine.Contains(l.Index) && marker.IsOwnedBy(l, domain))) return false;
        return links.DeleteGroup(group) is null;
    }

    /// <summary>The links' tap nodes that name their devices, read while the links exist (sysfs forgets a link with it).</summary>
    private static List<(int Ifindex, DeviceNumber Device)> NodesOf(TapNodes taps, IEnumerable<Link> links) =>
        links.Select(l => (l.Index, Device: taps.NodeToTakeBack(l.Name, l.Index)))
            .Where(n => n.Device is not null).Select(n => (n.Index, n.Device!.Value)).ToList();

    /// <summary>After the deletion: the nodes still there and naming the deleted links' devices go, except those of links still there.</summary>
    private static void TakeBack(TapNodes taps, List<(int Ifindex, DeviceNumber Device)> nodes, IReadOnlySet<int> kept)
    {
        foreach ((int ifindex, DeviceNumber device) in nodes.Where(n => !kept.Contains(n.Ifindex))) taps.TakeBack(ifindex, device);
    }
}
