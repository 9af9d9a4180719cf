using LibvirtShim.Libvirt;
using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Listener;

/// <summary>
/// What one round of <see cref="LinkFollower.Apply"/> did: the changes the kernel made, those it refused, how many announces went
/// out, and those that could not be sent.
/// </summary>
internal sealed record FollowResult(
    IReadOnlyList<LinkChange> Done, IReadOnlyList<(LinkChange Change, NetlinkError Error)> Refused, int Announced,
    IReadOnlyList<(LinkChange Change, Errno Error)> Unannounced)
{
    public static readonly FollowResult Nothing = new([], [], 0, []);

    public int SetUp => Done.Count(c => c.Up);
    public int SetDown => Done.Count(c => !c.Up);
}

/// <summary>
/// Brings the hook's links of a set of guests up or down as their states say: one batched lookup of their names, then one
/// batched RTM_NEWLINK changing IFF_UP only, by ifindex, of the links that carry the guest's marks (<see cref="LinkPlan"/>);
/// each link brought up then gets QEMU's announce repeated (<see cref="MacAnnouncer"/>), when there is an announcer.
/// </summary>
internal static class LinkFollower
{
    public static FollowResult Apply(LinkTable table, LinkMarker marker, IReadOnlyList<GuestSnapshot> guests, MacAnnouncer? announcer = null)
    {
        List<string> names = LinkPlan.NamesToFind(guests);
        if (names.Count == 0) return FollowResult.Nothing;
        IReadOnlyList<Link?> links = table.Find(names);
        var found = new Dictionary<string, Link>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (links[i] is { } link) found[names[i]] = link;
        }
        List<LinkChange> changes = LinkPlan.Plan(guests, found, marker);
        if (changes.Count == 0) return FollowResult.Nothing;

        IReadOnlyList<NetlinkError?> errors = table.SetUpDown(changes.ConvertAll(c => new LinkUpDown(c.Link.Index, c.Up)));
        var done = new List<LinkChange>(changes.Count);
        var refused = new List<(LinkChange, NetlinkError)>();
        var unannounced = new List<(LinkChange, Errno)>();
        int announced = 0;
        for (int i = 0; i < changes.Count; i++)
        {
            if (errors[i] is { } error)
            {
                refused.Add((changes[i], error));
                continue;
            }
            done.Add(changes[i]);
            if (announcer is null || !MacAnnouncer.Announces(changes[i])) continue;
            if (announcer.Announce(changes[i].Link) is not Errno.None and var errno) unannounced.Add((changes[i], errno));
            else announced++;
        }
        return new FollowResult(done, refused, announced, unannounced);
    }
}
