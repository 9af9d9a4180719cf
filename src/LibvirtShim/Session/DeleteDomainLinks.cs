using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Session;

/// <summary>A link the deletion could not delete, and the kernel's answer.</summary>
internal readonly record struct UndeletedLink(Link Link, NetlinkError Error);

/// <summary>
/// Deletes links already shown to carry a domain's marks, as cheaply as ownership allows. Several go in one deletion of the
/// domain's netdev group (one RCU grace period instead of one per link), but only after a dump has shown the group holds
/// nothing that is not the domain's; otherwise, and for a single link, they go one by one, by ifindex.
/// </summary>
/// <remarks>
/// The group check cannot be narrowed by the kernel: a strict-checking link dump (rtnl_dump_ifinfo) filters by
/// IFLA_MASTER and by IFLA_LINKINFO kind only, and a group deletion deletes members of every kind, so a kind filter would
/// prove nothing. IFLA_EXT_MASK cannot shrink the answers either: with RTEXT_FILTER_SKIP_STATS (which drops the IPv6
/// statistics only) a macvtap's RTM_NEWLINK is still 1168 bytes (1540 without), IFLA_STATS64 and IFLA_AF_SPEC included.
/// So the dump is paid only when it saves grace periods, and of the other links only IFLA_GROUP is read.
/// </remarks>
internal static class DeleteDomainLinks
{

    /// <summary>
    /// Up to this many links go by ifindex without the group check. Deleting one link by ifindex costs what deleting the
    /// group costs (one grace period), and the check is a dump of every link of the host: 9 µs a link, 147 ms at 16,000
    /// links (issue 16). Two links by ifindex cost a second grace period (13-17 ms), less than the check above ~2,000 links,
    /// more below; one is the case that never loses.
    /// </summary>
    private const int MaxWithoutGroupCheck = 1;

    /// <summary>
    /// Deletes <paramref name="ours"/> (links carrying <paramref name="domain"/>'s marks). Returns how many links went and
    /// the ones that could not be deleted; a link already gone counts as deleted.
    /// </summary>
    public static (int Deleted, List<UndeletedLink> Failed) Run(LinkTable links, LinkMarker marker, Guid domain, IReadOnlyList<Link> ours)
    {
        if (ours.Count == 0) return (0, []);
        if (ours.Count > MaxWithoutGroupCheck && DeleteGroup(links, marker, domain) is { } deleted) return (deleted, []);

        IReadOnlyList<NetlinkError?> errors = links.Delete(ours.Select(l => l.Index).ToList());
        var failed = new List<UndeletedLink>();
        for (int i = 0; i < ours.Count; i++)
        {
            if (errors[i] is { } error && error.Errno != Errno.ENODEV) failed.Add(new UndeletedLink(ours[i], error));
        }
        return (ours.Count - failed.Count, failed);
    }

    /// <summary>The domain's whole group in one request, when a dump shows every member carries the domain's marks; null otherwise.</summary>
    private static int? DeleteGroup(LinkTable links, LinkMarker marker, Guid domain)
    {
        uint group = marker.Group(domain);
        IReadOnlyList<Link> members = links.DumpGroup(group);
        if (members.Count == 0 || !members.All(l => marker.IsOwnedBy(l, domain))) return null;
        return links.DeleteGroup(group) is null ? members.Count : null;
    }
}
