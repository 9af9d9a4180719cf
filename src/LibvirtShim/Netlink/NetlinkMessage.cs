using System.Buffers.Binary;

namespace LibvirtShim.Netlink;

/// <summary>One message of a received datagram: the nlmsghdr fields and the payload after the header.</summary>
internal readonly ref struct NetlinkMessage
{
    public NetlinkMessage(ushort type, ushort flags, uint sequence, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        Payload = payload;
    }

    public ushort Type { get; }
    public ushort Flags { get; }
    public uint Sequence { get; }
    public ReadOnlySpan<byte> Payload { get; }

    public bool HasFlag(ushort flag) => (Flags & flag) != 0;
}

/// <summary>Enumerates the messages packed in one datagram (foreach-able, no allocation).</summary>
internal ref struct NetlinkMessageReader
{
    private ReadOnlySpan<byte> _remaining;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram)
    {
        _remaining = datagram;
        Current = default;
    }

    public NetlinkMessage Current { get; private set; }

    public readonly NetlinkMessageReader GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_remaining.IsEmpty) return false;
        if (_remaining.Length < NetlinkProtocol.HeaderLength)
            throw NetlinkException.Malformed($"{_remaining.Length} trailing bytes, shorter than a message header");

        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(_remaining);
        if (length < NetlinkProtocol.HeaderLength || length > _remaining.Length)
            throw NetlinkException.Malformed($"message length {length} with {_remaining.Length} bytes left");

        Current = new NetlinkMessage(
            type: BinaryPrimitives.ReadUInt16LittleEndian(_remaining[4..]),
            flags: BinaryPrimitives.ReadUInt16LittleEndian(_remaining[6..]),
            sequence: BinaryPrimitives.ReadUInt32LittleEndian(_remaining[8..]),
            payload: _remaining[NetlinkProtocol.HeaderLength..length]);

        _remaining = _remaining[Math.Min(NetlinkProtocol.Align(length), _remaining.Length)..];
        return true;
    }
}
