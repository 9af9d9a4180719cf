using LibvirtShim.Net;

namespace LibvirtShim.Netlink;

/// <summary>
/// A link as RTM_NEWLINK describes it. <see cref="LowerIndex"/> is IFLA_LINK (0 when absent); <see cref="Mode"/>
/// is set for macvtap and macvlan links only.
/// </summary>
internal readonly record struct Link(
    int Index,
    string Name,
    string? Kind,
    int LowerIndex,
    MacAddress Mac,
    uint Group,
    string? Alias,
    bool IsUp,
    MacvtapMode? Mode);

/// <summary>One macvtap to create: the name, the lower device's ifindex, MAC, mode, the group marking it ours, the alias.</summary>
internal readonly record struct MacvtapRequest(string Name, int LowerIndex, MacAddress Mac, MacvtapMode Mode, uint Group, string Alias);

/// <summary>What became of one <see cref="MacvtapRequest"/>: exactly one of the two is set.</summary>
internal readonly record struct LinkOutcome(Link? Created, NetlinkError? Error)
{
    public static LinkOutcome Success(Link link) => new(link, null);
    public static LinkOutcome Failure(NetlinkError error) => new(null, error);
}
