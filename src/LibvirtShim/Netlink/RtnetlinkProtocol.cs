namespace LibvirtShim.Netlink;

/// <summary>rtnetlink(7) link and address messages: types, struct ifinfomsg and ifaddrmsg, and the IFLA_*/IFA_* attributes this shim uses.</summary>
internal static class RtnetlinkProtocol
{
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_DELLINK = 17;
    public const ushort RTM_GETLINK = 18;
    public const ushort RTM_NEWADDR = 20;
    public const ushort RTM_GETADDR = 22;

    public const int IfInfoLength = 16;   // struct ifinfomsg
    public const int IfAddrLength = 8;   // struct ifaddrmsg
    public const byte AF_UNSPEC = 0;
    public const uint IFF_UP = 0x1;
    public const uint IFF_LOOPBACK = 0x8;
    public const uint IFF_ALLMULTI = 0x200;

    public const ushort IFLA_ADDRESS = 1;
    public const ushort IFLA_IFNAME = 3;
    public const ushort IFLA_MTU = 4;
    public const ushort IFLA_LINK = 5;
    public const ushort IFLA_MASTER = 10;
    public const ushort IFLA_LINKINFO = 18;
    public const ushort IFLA_IFALIAS = 20;
    public const ushort IFLA_GROUP = 27;
    public const ushort IFLA_AF_SPEC = 26;
    public const ushort IFLA_EXT_MASK = 29;

    public const ushort IFA_ADDRESS = 1;
    public const ushort IFA_LOCAL = 2;

    public const ushort IFLA_INFO_KIND = 1;
    public const ushort IFLA_INFO_DATA = 2;

    public const ushort IFLA_MACVLAN_MODE = 1;
    public const ushort IFLA_MACVLAN_MACADDR_MODE = 3;
    public const ushort IFLA_MACVLAN_MACADDR = 4;
    public const ushort IFLA_MACVLAN_MACADDR_DATA = 5;

    /// <summary>MACVLAN_MACADDR_SET: the source list becomes exactly the IFLA_MACVLAN_MACADDR_DATA given.</summary>
    public const uint MACVLAN_MACADDR_SET = 3;

    /// <summary>ARPHRD_* link types (ifi_type) the shim tells apart.</summary>
    public const ushort ARPHRD_ETHER = 1;
    public const ushort ARPHRD_LOOPBACK = 772;

    /// <summary>IFLA_AF_SPEC is nested by address family; AF_INET6 holds IFLA_INET6_* attributes.</summary>
    public const ushort AF_INET6 = 10;
    public const ushort IFLA_INET6_ADDR_GEN_MODE = 8;   // u8
    public const byte IN6_ADDR_GEN_MODE_NONE = 1;

    /// <summary>RTEXT_FILTER_SKIP_STATS: leave the statistics out of link replies (smaller answers).</summary>
    public const uint RTEXT_FILTER_SKIP_STATS = 1 << 3;

    public const string MacvtapKind = "macvtap";
}
