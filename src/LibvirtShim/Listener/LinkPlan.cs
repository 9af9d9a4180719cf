using LibvirtShim.Libvirt;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Listener;

/// <summary>A link of the hook's to bring up or down, and the guest it follows.</summary>
internal readonly record struct LinkChange(GuestSnapshot Guest, Link Link, bool Up);

/// <summary>
/// What the listener changes for a set of guests, from facts gathered beforehand: pure, so each state and each kind of link
/// found on a guest's names is tested without libvirt or a kernel.
/// </summary>
internal static class LinkPlan
{
    /// <summary>The names to look up: the links of every guest whose state says up or down, each name once.</summary>
    public static List<string> NamesToFind(IEnumerable<GuestSnapshot> guests) =>
        guests.Where(g => g.LinksUp is not null).SelectMany(g => g.LinkNames).Where(InterfaceName.IsValid)
            .Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// For each guest whose state says up or down, each link found on its names (<paramref name="found"/>, by name) that carries
    /// that guest's marks and is not already so. A link without them (someone else's on the name, another domain's, an
    /// unmarked one) is never touched, nor are the links of a guest that does not run here.
    /// </summary>
    public static List<LinkChange> Plan(IEnumerable<GuestSnapshot> guests, IReadOnlyDictionary<string, Link> found, LinkMarker marker)
    {
        var changes = new List<LinkChange>();
        var planned = new HashSet<int>();
        foreach (GuestSnapshot guest in guests)
        {
            if (guest.LinksUp is not { } up) continue;
            foreach (string name in guest.LinkNames)
            {
                if (!found.TryGetValue(name, out Link link) || link.Name != name || !marker.IsOwnedBy(link, guest.Uuid)) continue;
                if (link.IsUp != up && planned.Add(link.Index)) changes.Add(new LinkChange(guest, link, up));
            }
        }
        return changes;
    }
}
