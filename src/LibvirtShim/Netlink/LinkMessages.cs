using static LibvirtShim.Netlink.NetlinkProtocol;
using static LibvirtShim.Netlink.RtnetlinkProtocol;

namespace LibvirtShim.Netlink;

/// <summary>Writes one request of a batch for the item it is given.</summary>
internal delegate void RequestWriter<T>(ref NetlinkWriter writer, uint sequence, T item);

/// <summary>The link requests this shim sends. Every non-dump request asks for an ack.</summary>
internal static class LinkMessages
{
    private const ushort Request = NLM_F_REQUEST | NLM_F_ACK;

    /// <summary>RTM_GETLINK by IFLA_IFNAME, statistics left out.</summary>
    public static void GetByName(ref NetlinkWriter writer, uint sequence, string name)
    {
        int message = writer.BeginMessage(RTM_GETLINK, Request, sequence);
        writer.WriteIfInfo(index: 0);
        writer.WriteString(IFLA_IFNAME, name);
        writer.WriteUInt32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        writer.EndMessage(message);
    }

    /// <summary>RTM_GETLINK by ifindex, statistics left out.</summary>
    public static void GetByIndex(ref NetlinkWriter writer, uint sequence, int index)
    {
        int message = writer.BeginMessage(RTM_GETLINK, Request, sequence);
        writer.WriteIfInfo(index);
        writer.WriteUInt32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        writer.EndMessage(message);
    }

    /// <summary>RTM_NEWLINK (no create flags) by ifindex setting IFF_UP and nothing else.</summary>
    public static void SetUp(ref NetlinkWriter writer, uint sequence, int index)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request, sequence);
        writer.WriteIfInfo(index, flags: IFF_UP, change: IFF_UP);
        writer.EndMessage(message);
    }

    /// <summary>RTM_GETLINK dump of every link.</summary>
    public static void Dump(ref NetlinkWriter writer, uint sequence)
    {
        int message = writer.BeginMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, sequence);
        writer.WriteIfInfo(index: 0);
        writer.WriteUInt32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        writer.EndMessage(message);
    }

    /// <summary>RTM_GETADDR dump of every address of every family (struct ifaddrmsg all zero: no filter).</summary>
    public static void DumpAddresses(ref NetlinkWriter writer, uint sequence)
    {
        int message = writer.BeginMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, sequence);
        writer.WriteIfAddr();
        writer.EndMessage(message);
    }

    /// <summary>
    /// RTM_NEWLINK creating a macvtap, down, with name, lower device, MAC, group, MTU when asked, IFF_ALLMULTI as asked and,
    /// in source mode, its source MACs; fails if the name is taken. Down, because an up link gets an IPv6 link-local
    /// address and speaks with the guest's MAC.
    /// </summary>
    public static void NewMacvtap(ref NetlinkWriter writer, uint sequence, MacvtapRequest request)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request | NLM_F_CREATE | NLM_F_EXCL, sequence);
        writer.WriteIfInfo(index: 0, flags: request.AllMulticast ? IFF_ALLMULTI : 0, change: IFF_ALLMULTI);
        writer.WriteString(IFLA_IFNAME, request.Name);
        writer.WriteUInt32(IFLA_LINK, (uint)request.LowerIndex);
        Span<byte> mac = stackalloc byte[Net.MacAddress.Length];
        request.Mac.Write(mac);
        writer.WriteAttribute(IFLA_ADDRESS, mac);
        writer.WriteUInt32(IFLA_GROUP, request.Group);
        if (request.Mtu != 0) writer.WriteUInt32(IFLA_MTU, request.Mtu);
        WriteMacvtapInfo(ref writer, request.Mode, request.SourceMacs);
        writer.EndMessage(message);
    }

    /// <summary>
    /// A link's settings after its creation, by ifindex: IPv6 address generation off, then the alias and up, in two messages
    /// sent in this order. On the kernel (6.18), a create carrying IFLA_AF_SPEC fails (EAFNOSUPPORT), and a setlink carrying
    /// IFF_UP and IFLA_AF_SPEC applies the flags first, so the link-local address would already exist.
    /// </summary>
    public static void Settle(ref NetlinkWriter writer, uint sequence, LinkSettlement step)
    {
        if (step.Step == SettleStep.AddressGenerationOff) AddressGenerationOff(ref writer, sequence, step.Index);
        else AliasAndUp(ref writer, sequence, step.Index, step.Alias, step.Up);
    }

    /// <summary>RTM_NEWLINK by ifindex with IFLA_AF_SPEC{AF_INET6{IFLA_INET6_ADDR_GEN_MODE = none}}: no IPv6 address is ever generated.</summary>
    private static void AddressGenerationOff(ref NetlinkWriter writer, uint sequence, int index)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request, sequence);
        writer.WriteIfInfo(index);
        int afSpec = writer.BeginNested(IFLA_AF_SPEC);
        int inet6 = writer.BeginNested(AF_INET6);
        writer.WriteAttribute(IFLA_INET6_ADDR_GEN_MODE, [IN6_ADDR_GEN_MODE_NONE]);
        writer.EndNested(inet6);
        writer.EndNested(afSpec);
        writer.EndMessage(message);
    }

    /// <summary>RTM_NEWLINK (no create flags) by ifindex setting IFLA_IFALIAS (none when empty) and IFF_UP, or leaving the link down.</summary>
    private static void AliasAndUp(ref NetlinkWriter writer, uint sequence, int index, string alias, bool up)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request, sequence);
        writer.WriteIfInfo(index, flags: up ? IFF_UP : 0, change: IFF_UP);
        writer.WriteString(IFLA_IFALIAS, alias);
        writer.EndMessage(message);
    }

    /// <summary>RTM_NEWLINK (no create flags) by ifindex changing IFF_UP only: ifi_change masks every other flag, no attribute.</summary>
    public static void SetUpDown(ref NetlinkWriter writer, uint sequence, LinkUpDown change)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request, sequence);
        writer.WriteIfInfo(change.Index, flags: change.Up ? IFF_UP : 0, change: IFF_UP);
        writer.EndMessage(message);
    }

    /// <summary>RTM_DELLINK by ifindex.</summary>
    public static void DeleteByIndex(ref NetlinkWriter writer, uint sequence, int index)
    {
        int message = writer.BeginMessage(RTM_DELLINK, Request, sequence);
        writer.WriteIfInfo(index);
        writer.EndMessage(message);
    }

    /// <summary>RTM_DELLINK with ifindex 0 and IFLA_GROUP: the kernel deletes every link of the group at once.</summary>
    public static void DeleteGroup(ref NetlinkWriter writer, uint sequence, uint group)
    {
        int message = writer.BeginMessage(RTM_DELLINK, Request, sequence);
        writer.WriteIfInfo(index: 0);
        writer.WriteUInt32(IFLA_GROUP, group);
        writer.EndMessage(message);
    }

    /// <summary>The kind and mode; source MACs as IFLA_MACVLAN_MACADDR_MODE SET with their list, which the kernel applies at creation.</summary>
    private static void WriteMacvtapInfo(ref NetlinkWriter writer, Net.MacvtapMode mode, Net.MacAddressSet? sourceMacs)
    {
        int linkInfo = writer.BeginNested(IFLA_LINKINFO);
        writer.WriteString(IFLA_INFO_KIND, MacvtapKind);
        int data = writer.BeginNested(IFLA_INFO_DATA);
        writer.WriteUInt32(IFLA_MACVLAN_MODE, (uint)mode);
        if (sourceMacs is { Count: > 0 })
        {
            writer.WriteUInt32(IFLA_MACVLAN_MACADDR_MODE, MACVLAN_MACADDR_SET);
            int list = writer.BeginNested(IFLA_MACVLAN_MACADDR_DATA);
            Span<byte> mac = stackalloc byte[Net.MacAddress.Length];
            foreach (Net.MacAddress source in sourceMacs.Addresses)
            {
                source.Write(mac);
                writer.WriteAttribute(IFLA_MACVLAN_MACADDR, mac);
            }
            writer.EndNested(list);
        }
        writer.EndNested(data);
        writer.EndNested(linkInfo);
    }
}
