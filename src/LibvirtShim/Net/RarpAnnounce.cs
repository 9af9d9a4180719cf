using System.Buffers.Binary;

namespace LibvirtShim.Net;

/// <summary>
/// The frame QEMU sends to announce a guest's MAC after a migration or restore (its self-announce): a broadcast RARP request
/// whose sender and target hardware addresses are the MAC, with no protocol addresses, padded to Ethernet's 60-byte minimum.
/// A switch that sees it learns on which port the MAC now is.
/// </summary>
internal static class RarpAnnounce
{
    public const int Length = 60;
    private const ushort EtherTypeRarp = 0x8035, HardwareEthernet = 1, ProtocolIpv4 = 0x0800, ReverseRequest = 3;

    /// <summary>Writes the frame for <paramref name="mac"/> into the first <see cref="Length"/> bytes of <paramref name="frame"/>.</summary>
    public static void Write(MacAddress mac, Span<byte> frame)
    {
        frame = frame[..Length];
        frame.Clear();
        frame[..MacAddress.Length].Fill(0xff);
        mac.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypeRarp);
        Span<byte> rarp = frame[14..];
        BinaryPrimitives.WriteUInt16BigEndian(rarp, HardwareEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(rarp[2..], ProtocolIpv4);
        rarp[4] = MacAddress.Length;
        rarp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(rarp[6..], ReverseRequest);
        mac.Write(rarp[8..]);    // sender hardware address; sender protocol address 0.0.0.0
        mac.Write(rarp[18..]);   // target hardware address; target protocol address 0.0.0.0
    }
}
