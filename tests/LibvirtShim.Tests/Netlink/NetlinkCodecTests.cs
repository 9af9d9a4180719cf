using System.Buffers.Binary;
using LibvirtShim.Netlink;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

/// <summary>The writer and readers on their own, no kernel.</summary>
public sealed class NetlinkCodecTests
{
    [Fact]
    public void Writer_patches_lengths_and_aligns_everything_to_four_bytes()
    {
        var writer = new NetlinkWriter(initialCapacity: 8);   // forces growth
        int message = writer.BeginMessage(type: 16, flags: 0x605, sequence: 77);
        writer.WriteIfInfo(index: 5, flags: 1, change: 1);
        writer.WriteString(3, "ab");   // 4 + 3 bytes, padded to 8
        int nest = writer.BeginNested(18);
        writer.WriteString(1, "macvtap");   // 4 + 8
        writer.WriteUInt32(2, 0xdeadbeef);   // 4 + 4
        writer.EndNested(nest);
        writer.EndMessage(message);
        byte[] bytes = writer.Written.ToArray();

        Assert.Equal(16 + 16 + 8 + 4 + 12 + 8, bytes.Length);
        Assert.Equal((uint)bytes.Length, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(0, bytes.Length % 4);
        Assert.Equal(5, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20)));
        Assert.Equal(7, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(32)));   // unpadded attribute length
        Assert.Equal(24, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(40)));   // nest: header + both children
        Assert.Equal(18 | 0x8000, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(42)));
    }

    [Fact]
    public void Readers_walk_back_what_the_writer_wrote()
    {
        var writer = new NetlinkWriter();
        for (uint sequence = 1; sequence <= 2; sequence++)
        {
            int message = writer.BeginMessage(type: 16, flags: 1, sequence);
            writer.WriteIfInfo(index: (int)sequence);
            writer.WriteString(3, $"name{sequence}");
            int nest = writer.BeginNested(18);
            writer.WriteUInt32(7, sequence * 10);
            writer.EndNested(nest);
            writer.EndMessage(message);
        }

        var seen = new List<string>();
        foreach (NetlinkMessage message in new NetlinkMessageReader(writer.Written))
        {
            foreach (NetlinkAttribute attribute in new NetlinkAttributeReader(message.Payload[16..]))
            {
                if (attribute.Type == 3) seen.Add($"{message.Sequence}:{attribute.AsString()}");
                foreach (NetlinkAttribute inner in attribute.Type == 18 ? attribute.Nested() : default)
                    seen.Add($"{message.Sequence}:{inner.Type}={inner.AsUInt32()}");
            }
        }
        Assert.Equal(["1:name1", "1:7=10", "2:name2", "2:7=20"], seen);
    }

    [Fact]
    public void A_message_longer_than_the_datagram_is_malformed()
    {
        byte[] datagram = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(datagram, 64);

        Assert.Throws<NetlinkException>(() =>
        {
            foreach (NetlinkMessage _ in new NetlinkMessageReader(datagram)) { }
        });
    }

    [Fact]
    public void A_capped_error_with_extended_ack_yields_errno_and_text()
    {
        byte[] payload = ErrorPayload(-17, "name taken");
        var message = new NetlinkMessage(NetlinkProtocol.NLMSG_ERROR, NetlinkProtocol.NLM_F_CAPPED | NetlinkProtocol.NLM_F_ACK_TLVS, 9, payload);

        Assert.Equal(new NetlinkError(Errno.EEXIST, "name taken"), NetlinkAck.ReadError(message));
    }

    [Fact]
    public void An_ack_is_no_error() =>
        Assert.Null(NetlinkAck.ReadError(new NetlinkMessage(NetlinkProtocol.NLMSG_ERROR, NetlinkProtocol.NLM_F_CAPPED, 9, ErrorPayload(0, null))));

    [Fact]
    public void Errors_describe_themselves_with_errno_name_and_kernel_text()
    {
        Assert.Equal("File exists (EEXIST, errno 17)", new NetlinkError(Errno.EEXIST, null).Describe());
        Assert.Equal("File exists (EEXIST, errno 17; kernel: boom)", new NetlinkError(Errno.EEXIST, "boom").Describe());
        Assert.Equal("File exists (EEXIST, errno 17): not ours", new NetlinkError(Errno.EEXIST, null, "not ours").Describe());
    }

    /// <summary>struct nlmsgerr with the request's header only (capped), then NLMSGERR_ATTR_MSG.</summary>
    private static byte[] ErrorPayload(int error, string? text)
    {
        byte[] head = new byte[sizeof(int) + NetlinkProtocol.HeaderLength];
        BinaryPrimitives.WriteInt32LittleEndian(head, error);
        BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(sizeof(int)), 64);   // the echoed request's nlmsg_len
        if (text is null) return head;
        var tlv = new NetlinkWriter();
        tlv.WriteString(NetlinkProtocol.NLMSGERR_ATTR_MSG, text);
        return [.. head, .. tlv.Written];
    }
}
