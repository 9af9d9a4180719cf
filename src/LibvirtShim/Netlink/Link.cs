using LibvirtShim.Net;

namespace LibvirtShim.Netlink;

/// <summary>
/// A link as RTM_NEWLINK describes it. <see cref="LowerIndex"/> is IFLA_LINK (0 when absent); <see cref="Mode"/>
/// is set for macvtap and macvlan links only; <see cref="Mtu"/> is IFLA_MTU (0 when absent); <see cref="Master"/> is
/// IFLA_MASTER, the bridge, bond, team or VRF the link is a port of (0 when none); <see cref="Type"/> is ifi_type, the
/// ARPHRD_* link type (1 for Ethernet); <see cref="SourceMacs"/> the addresses a source-mode macvlan or macvtap
/// accepts frames from (null for every other link).
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
    MacvtapMode? Mode,
    uint Mtu = 0,
    bool AllMulticast = false,
    int Master = 0,
    ushort Type = RtnetlinkProtocol.ARPHRD_ETHER,
    MacAddressSet? SourceMacs = null);

/// <summary>
/// One macvtap to create: the name, the lower device's ifindex, MAC, mode, the group marking it ours, the alias, the MTU
/// (0: the lower device's), whether it takes every multicast frame (IFF_ALLMULTI), in source mode the source MACs whose
/// frames it accepts, and whether it is brought up once settled (<see cref="Up"/> false: it stays down, for whoever brings it
/// up when the guest's vCPUs run).
/// </summary>
internal readonly record struct MacvtapRequest(
    string Name, int LowerIndex, MacAddress Mac, MacvtapMode Mode, uint Group, string Alias, uint Mtu = 0, bool AllMulticast = true,
    MacAddressSet? SourceMacs = null, bool Up = true);

internal enum SettleStep { AddressGenerationOff, AliasAndUp }

/// <summary>One message of the round that settles created links (<see cref="LinkMessages.Settle"/>); <see cref="Up"/> with the alias.</summary>
internal readonly record struct LinkSettlement(int Index, SettleStep Step, string Alias, bool Up = true);

/// <summary>A link to bring up (IFF_UP set) or down (cleared), by ifindex; nothing else of it changes.</summary>
internal readonly record struct LinkUpDown(int Index, bool Up);

/// <summary>What became of one <see cref="MacvtapRequest"/>: exactly one of the two is set.</summary>
internal readonly record struct LinkOutcome(Link? Created, NetlinkError? Error)
{
    public static LinkOutcome Success(Link link) => new(link, null);
    public static LinkOutcome Failure(NetlinkError error) => new(null, error);
}
