using System.Buffers.Binary;

namespace LibvirtShim.Netlink;

/// <summary>Reads the status that NLMSG_ERROR (an ack or an error) and NLMSG_DONE carry.</summary>
internal static class NetlinkAck
{
    /// <summary>NLMSG_ERROR: null for an ack (error 0), else the errno and the extended-ack text.</summary>
    public static NetlinkError? ReadError(NetlinkMessage message)
    {
        ReadOnlySpan<byte> payload = message.Payload;
        int error = ReadStatus(payload);
        if (error == 0) return null;

        int echoed = EchoedRequestLength(payload[sizeof(int)..], message.HasFlag(NetlinkProtocol.NLM_F_CAPPED));
        ReadOnlySpan<byte> tlvs = payload[Math.Min(payload.Length, sizeof(int) + echoed)..];
        return new NetlinkError((Errno)(-error), message.HasFlag(NetlinkProtocol.NLM_F_ACK_TLVS) ? KernelText(tlvs) : null);
    }

    /// <summary>NLMSG_DONE of a dump: null when the dump completed, else the error that ended it.</summary>
    public static NetlinkError? ReadDone(NetlinkMessage message)
    {
        ReadOnlySpan<byte> payload = message.Payload;
        if (payload.Length < sizeof(int)) return null;   // some families send an empty DONE
        int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (error == 0) return null;
        return new NetlinkError((Errno)(-error), message.HasFlag(NetlinkProtocol.NLM_F_ACK_TLVS) ? KernelText(payload[sizeof(int)..]) : null);
    }

    private static int ReadStatus(ReadOnlySpan<byte> payload) =>
        payload.Length >= sizeof(int) ? BinaryPrimitives.ReadInt32LittleEndian(payload)
        : throw NetlinkException.Malformed($"NLMSG_ERROR of {payload.Length} bytes");

    /// <summary>The kernel echoes the request's header, and its whole payload unless the ack is capped.</summary>
    private static int EchoedRequestLength(ReadOnlySpan<byte> echo, bool capped)
    {
        if (capped || echo.Length < NetlinkProtocol.HeaderLength) return Math.Min(echo.Length, NetlinkProtocol.HeaderLength);
        int requestLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(echo);
        return NetlinkProtocol.Align(Math.Clamp(requestLength, NetlinkProtocol.HeaderLength, echo.Length));
    }

    private static string? KernelText(ReadOnlySpan<byte> tlvs)
    {
        foreach (NetlinkAttribute attribute in new NetlinkAttributeReader(tlvs))
        {
            if (attribute.Type == NetlinkProtocol.NLMSGERR_ATTR_MSG)
                return attribute.AsString() is { Length: > 0 } text ? text : null;
        }
        return null;
    }
}
