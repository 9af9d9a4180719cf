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

    /// <summary>RTM_GETLINK dump; with a kind, IFLA_LINKINFO{IFLA_INFO_KIND} asks the kernel to filter (strict checking).</summary>
    public static void Dump(ref NetlinkWriter writer, uint sequence, string? kind)
    {
        int message = writer.BeginMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, sequence);
        writer.WriteIfInfo(index: 0);
        writer.WriteUInt32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        if (kind is not null)
        {
            int linkInfo = writer.BeginNested(IFLA_LINKINFO);
            writer.WriteString(IFLA_INFO_KIND, kind);
            writer.EndNested(linkInfo);
        }
        writer.EndMessage(message);
    }

    /// <summary>RTM_NEWLINK creating a macvtap, up, with name, lower device, MAC and group; fails if the name is taken.</summary>
    public static void NewMacvtap(ref NetlinkWriter writer, uint sequence, MacvtapRequest request)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request | NLM_F_CREATE | NLM_F_EXCL, sequence);
        writer.WriteIfInfo(index: 0, flags: IFF_UP, change: IFF_UP);
        writer.WriteString(IFLA_IFNAME, request.Name);
        writer.WriteUInt32(IFLA_LINK, (uint)request.LowerIndex);
        Span<byte> mac = stackalloc byte[Net.MacAddress.Length];
        request.Mac.Write(mac);
        writer.WriteAttribute(IFLA_ADDRESS, mac);
        writer.WriteUInt32(IFLA_GROUP, request.Group);
        WriteMacvtapInfo(ref writer, request.Mode);
        writer.EndMessage(message);
    }

    /// <summary>RTM_NEWLINK (no create flags) addressed by ifindex, setting IFLA_IFALIAS.</summary>
    public static void SetAlias(ref NetlinkWriter writer, uint sequence, (int Index, string Alias) target)
    {
        int message = writer.BeginMessage(RTM_NEWLINK, Request, sequence);
        writer.WriteIfInfo(target.Index);
        writer.WriteString(IFLA_IFALIAS, target.Alias);
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

    private static void WriteMacvtapInfo(ref NetlinkWriter writer, Net.MacvtapMode mode)
    {
        int linkInfo = writer.BeginNested(IFLA_LINKINFO);
        writer.WriteString(IFLA_INFO_KIND, MacvtapKind);
        int data = writer.BeginNested(IFLA_INFO_DATA);
        writer.WriteUInt32(IFLA_MACVLAN_MODE, (uint)mode);
        writer.EndNested(data);
        writer.EndNested(linkInfo);
    }
}
