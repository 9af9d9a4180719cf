using System.Buffers.Binary;
using System.Net;
using LibvirtShim.Net;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// Ethernet frames as a guest would send them, each carrying a tag of 8 random bytes at its end so that a capture can
/// tell which of them arrived. Lengths and header fields are right; checksums are left zero (nothing on the path checks them).
/// </summary>
internal static class TestFrames
{
    public static readonly MacAddress Broadcast = new(0xffff_ffff_ffff);

    public static byte[] NewTag() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(8);

    public static bool Carries(byte[] frame, byte[] tag) => frame.AsSpan().IndexOf(tag) >= 0;

    public static byte[] Ethernet(MacAddress source, ushort type, byte[] payload, MacAddress? destination = null)
    {
        byte[] frame = new byte[14 + payload.Length];
        (destination ?? Broadcast).Write(frame);
        source.Write(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), type);
        payload.CopyTo(frame, 14);
        return frame;
    }

    /// <summary>A frame tagged with 802.1Q VLAN <paramref name="vlan"/>, carrying <paramref name="type"/> inside.</summary>
    public static byte[] Tagged(MacAddress source, ushort vlan, ushort type, byte[] payload)
    {
        byte[] inner = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(inner, vlan);
        BinaryPrimitives.WriteUInt16BigEndian(inner.AsSpan(2), type);
        payload.CopyTo(inner, 4);
        return Ethernet(source, 0x8100, inner);
    }

    /// <summary>ARP for IPv4 over Ethernet (operation 1 request, 2 reply), the tag after it.</summary>
    public static byte[] Arp(MacAddress source, MacAddress senderMac, string senderIp, string targetIp, byte[] tag, ushort operation = 1)
    {
        byte[] arp = new byte[28 + tag.Length];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(6), operation);
        senderMac.Write(arp.AsSpan(8));
        IPAddress.Parse(senderIp).GetAddressBytes().CopyTo(arp, 14);
        IPAddress.Parse(targetIp).GetAddressBytes().CopyTo(arp, 24);
        tag.CopyTo(arp, 28);
        return Ethernet(source, 0x0806, arp);
    }

    /// <summary>
    /// QEMU's announce (<see cref="RarpAnnounce"/>) sent from <paramref name="source"/> for <paramref name="announced"/>, the
    /// tag in its padding; another <paramref name="operation"/> than the reverse request (3) on request.
    /// </summary>
    public static byte[] Rarp(MacAddress source, MacAddress announced, byte[] tag, ushort operation = 3)
    {
        byte[] frame = new byte[RarpAnnounce.Length];
        RarpAnnounce.Write(announced, frame);
        source.Write(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), operation);
        tag.CopyTo(frame, 42);
        return frame;
    }

    /// <summary>IPv4 carrying UDP from <paramref name="sourcePort"/> to <paramref name="destinationPort"/>, the tag as its data.</summary>
    public static byte[] Udp4(MacAddress source, string from, string to, ushort sourcePort, ushort destinationPort, byte[] tag) =>
        Ethernet(source, 0x0800, Ipv4(from, to, 17, Udp(sourcePort, destinationPort, tag)));

    /// <summary>IPv4 carrying ICMP echo, the tag as its data.</summary>
    public static byte[] Ping4(MacAddress source, string from, string to, byte[] tag) =>
        Ethernet(source, 0x0800, Ipv4(from, to, 1, [8, 0, 0, 0, 0, 1, 0, 1, .. tag]));

    /// <summary>IPv6 carrying UDP.</summary>
    public static byte[] Udp6(MacAddress source, string from, string to, ushort sourcePort, ushort destinationPort, byte[] tag) =>
        Ethernet(source, 0x86dd, Ipv6(from, to, 17, Udp(sourcePort, destinationPort, tag)));

    /// <summary>
    /// IPv6 carrying ICMPv6 of <paramref name="type"/>, then <paramref name="body"/> (after the 4-byte type, code, checksum), then
    /// the tag; with <paramref name="hopByHop"/>, behind a hop-by-hop header with a router alert (as MLD is sent).
    /// </summary>
    public static byte[] Icmp6(MacAddress source, string from, string to, byte type, byte[] body, byte[] tag, bool hopByHop = false)
    {
        byte[] icmp = [type, 0, 0, 0, .. body, .. tag];
        if (!hopByHop) return Ethernet(source, 0x86dd, Ipv6(from, to, 58, icmp));
        byte[] options = [58, 0, 5, 2, 0, 0, 1, 0];   // next header ICMPv6, router alert, PadN
        return Ethernet(source, 0x86dd, Ipv6(from, to, 0, [.. options, .. icmp]));
    }

    /// <summary>A neighbour advertisement for <paramref name="target"/> (flags, then the target address).</summary>
    public static byte[] NeighbourAdvertisement(MacAddress source, string from, string target, byte[] tag) =>
        Icmp6(source, from, "ff02::1", 136, [0x20, 0, 0, 0, .. IPAddress.Parse(target).GetAddressBytes()], tag);

    /// <summary>A neighbour solicitation for <paramref name="target"/> (reserved word, then the target address).</summary>
    public static byte[] NeighbourSolicitation(MacAddress source, string from, string target, byte[] tag) =>
        Icmp6(source, from, "ff02::1:ff00:1", 135, [0, 0, 0, 0, .. IPAddress.Parse(target).GetAddressBytes()], tag);

    private static byte[] Udp(ushort sourcePort, ushort destinationPort, byte[] data)
    {
        byte[] udp = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        data.CopyTo(udp, 8);
        return udp;
    }

    private static byte[] Ipv4(string from, string to, byte protocol, byte[] payload)
    {
        byte[] packet = new byte[20 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = protocol;
        IPAddress.Parse(from).GetAddressBytes().CopyTo(packet, 12);
        IPAddress.Parse(to).GetAddressBytes().CopyTo(packet, 16);
        payload.CopyTo(packet, 20);
        return packet;
    }

    private static byte[] Ipv6(string from, string to, byte nextHeader, byte[] payload)
    {
        byte[] packet = new byte[40 + payload.Length];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)payload.Length);
        packet[6] = nextHeader;
        packet[7] = 255;
        IPAddress.Parse(from).GetAddressBytes().CopyTo(packet, 8);
        IPAddress.Parse(to).GetAddressBytes().CopyTo(packet, 24);
        payload.CopyTo(packet, 40);
        return packet;
    }
}
