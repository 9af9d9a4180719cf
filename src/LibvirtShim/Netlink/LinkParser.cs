using System.Buffers.Binary;
using LibvirtShim.Net;
using static LibvirtShim.Netlink.RtnetlinkProtocol;

namespace LibvirtShim.Netlink;

/// <summary>Reads an RTM_NEWLINK message (struct ifinfomsg and IFLA_* attributes) into a <see cref="Link"/>.</summary>
internal static class LinkParser
{
    public static Link? TryRead(NetlinkMessage message)
    {
        if (message.Type != RTM_NEWLINK) return null;
        ReadOnlySpan<byte> payload = message.Payload;
        if (payload.Length < IfInfoLength) throw NetlinkException.Malformed($"RTM_NEWLINK with {payload.Length} bytes of ifinfomsg");

        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        var link = new Link(index, Name: "", Kind: null, LowerIndex: 0, Mac: default, Group: 0, Alias: null,
            IsUp: (flags & IFF_UP) != 0, Mode: null, AllMulticast: (flags & IFF_ALLMULTI) != 0, Type: type);

        foreach (NetlinkAttribute attribute in new NetlinkAttributeReader(payload[IfInfoLength..]))
            link = Apply(link, attribute);

        if (link.Name.Length == 0) throw NetlinkException.Malformed($"RTM_NEWLINK for ifindex {index} without IFLA_IFNAME");
        return link;
    }

    /// <summary>IFLA_GROUP of an RTM_NEWLINK message (0 when absent), without reading the rest; null for other messages.</summary>
    public static uint? TryReadGroup(in NetlinkMessage message)
    {
        if (!TryReadAttributes(message, out NetlinkAttributeReader attributes)) return null;
        foreach (NetlinkAttribute attribute in attributes)
        {
            if (attribute.Type == IFLA_GROUP) return attribute.AsUInt32();
        }
        return 0;
    }

    private static bool TryReadAttributes(in NetlinkMessage message, out NetlinkAttributeReader attributes)
    {
        attributes = default;
        if (message.Type != RTM_NEWLINK) return false;
        if (message.Payload.Length < IfInfoLength) throw NetlinkException.Malformed($"RTM_NEWLINK with {message.Payload.Length} bytes of ifinfomsg");
        attributes = new NetlinkAttributeReader(message.Payload[IfInfoLength..]);
        return true;
    }

    private static Link Apply(Link link, NetlinkAttribute attribute) => attribute.Type switch
    {
        IFLA_IFNAME => link with { Name = attribute.AsString() },
        IFLA_LINK => link with { LowerIndex = attribute.AsInt32() },
        IFLA_MASTER => link with { Master = attribute.AsInt32() },
        IFLA_MTU => link with { Mtu = attribute.AsUInt32() },
        IFLA_ADDRESS when attribute.Value.Length == MacAddress.Length => link with { Mac = MacAddress.Read(attribute.Value) },
        IFLA_GROUP => link with { Group = attribute.AsUInt32() },
        IFLA_IFALIAS => link with { Alias = attribute.AsString() },
        IFLA_LINKINFO => ApplyLinkInfo(link, attribute.Nested()),
        _ => link,
    };

    private static Link ApplyLinkInfo(Link link, NetlinkAttributeReader linkInfo)
    {
        string? kind = null;
        ReadOnlySpan<byte> data = default;
        foreach (NetlinkAttribute attribute in linkInfo)
        {
            if (attribute.Type == IFLA_INFO_KIND) kind = attribute.AsString();
            else if (attribute.Type == IFLA_INFO_DATA) data = attribute.Value;
        }
        // IFLA_INFO_DATA's attribute numbers mean something else for every kind.
        bool isMacvlan = kind is MacvtapKind or "macvlan";
        return isMacvlan ? ReadMacvlanData(link with { Kind = kind }, new NetlinkAttributeReader(data)) : link with { Kind = kind };
    }

    /// <summary>The mode, and the source MACs of a source-mode link (the kernel sends them only in that mode).</summary>
    private static Link ReadMacvlanData(Link link, NetlinkAttributeReader data)
    {
        foreach (NetlinkAttribute attribute in data)
        {
            if (attribute.Type == IFLA_MACVLAN_MODE) link = link with { Mode = (MacvtapMode)attribute.AsUInt32() };
            else if (attribute.Type == IFLA_MACVLAN_MACADDR_DATA) link = link with { SourceMacs = ReadMacs(attribute.Nested()) };
        }
        return link.Mode == MacvtapMode.Source ? link with { SourceMacs = link.SourceMacs ?? MacAddressSet.Empty } : link;
    }

    private static MacAddressSet ReadMacs(NetlinkAttributeReader list)
    {
        var macs = new List<MacAddress>();
        foreach (NetlinkAttribute attribute in list)
        {
            if (attribute.Type == IFLA_MACVLAN_MACADDR && attribute.Value.Length == MacAddress.Length) macs.Add(MacAddress.Read(attribute.Value));
        }
        return new MacAddressSet(macs);
    }
}
