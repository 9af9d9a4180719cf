using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>A link libvirt-shim made that holds host addresses: the host may send from it with the guest's MAC.</summary>
internal sealed record SpeakingLink(Link Link, IReadOnlyList<HostAddress> Addresses)
{
    public string AddressList => string.Join(", ", Addresses);
}

/// <summary>
/// Finds the hook's links that hold a host address. prepare creates them with IPv6 address generation off and no
/// address, so one found here was configured by something else (a network manager, an administrator). For admin
/// commands only: it needs an RTM_GETADDR dump, which the hook itself never makes.
/// </summary>
internal static class SpeakingLinks
{
    public static List<SpeakingLink> Find(LinkMarker marker, IReadOnlyList<Link> links, IReadOnlyList<HostAddress> addresses)
    {
        var byLink = addresses.ToLookup(a => a.LinkIndex);
        return links.Where(l => byLink.Contains(l.Index) && (marker.Owner(l) is not null || LinkMarker.IsUnlabelled(l)))
            .OrderBy(l => l.Name, StringComparer.Ordinal)
            .Select(l => new SpeakingLink(l, byLink[l.Index].ToList()))
            .ToList();
    }
}
