using System.Buffers.Binary;
using System.Net;
using static LibvirtShim.Netlink.RtnetlinkProtocol;

namespace LibvirtShim.Netlink;

/// <summary>An IPv4 or IPv6 address the host holds on a link, as RTM_NEWADDR describes it.</summary>
internal readonly record struct HostAddress(int LinkIndex, IPAddress Address, byte PrefixLength)
{
    public override string ToString() => $"{Address}/{PrefixLength}";

    /// <summary>Reads an RTM_NEWADDR message (struct ifaddrmsg, IFA_LOCAL or else IFA_ADDRESS); null for other messages.</summary>
    public static HostAddress? TryRead(NetlinkMessage message)
    {
        if (message.Type != RTM_NEWADDR) return null;
        ReadOnlySpan<byte> payload = message.Payload;
        if (payload.Length < IfAddrLength) throw NetlinkException.Malformed($"RTM_NEWADDR with {payload.Length} bytes of ifaddrmsg");
        byte prefixLength = payload[1];
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        ReadOnlySpan<byte> address = default;
        foreach (NetlinkAttribute attribute in new NetlinkAttributeReader(payload[IfAddrLength..]))
        {
            // On a point-to-point link IFA_ADDRESS is the peer's; IFA_LOCAL, when present, is the host's own.
            if (attribute.Type == IFA_LOCAL || (attribute.Type == IFA_ADDRESS && address.IsEmpty)) address = attribute.Value;
        }
        if (address.Length is not (4 or 16)) return null;
        return new HostAddress(index, new IPAddress(address), prefixLength);
    }
}
