using System.Buffers.Binary;
using System.Text;

namespace LibvirtShim.Netlink;

/// <summary>
/// Writes netlink messages, one after another, into a growing buffer: a header, a family header, attributes and
/// nested attributes. Lengths are patched when a message or a nest ends; everything is 4-byte aligned.
/// </summary>
internal ref struct NetlinkWriter
{
    private byte[] _buffer;
    private int _length;

    private const int DefaultCapacity = 4096;

    public NetlinkWriter() : this(DefaultCapacity) { }

    public NetlinkWriter(int initialCapacity)
    {
        _buffer = new byte[Math.Max(initialCapacity, NetlinkProtocol.HeaderLength)];
        _length = 0;
    }

    public readonly ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>Starts a message; returns its offset for <see cref="EndMessage"/>.</summary>
    public int BeginMessage(ushort type, ushort flags, uint sequence)
    {
        int start = _length;
        Span<byte> header = Reserve(NetlinkProtocol.HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], sequence);
        // nlmsg_len is patched by EndMessage; nlmsg_pid stays 0 (the kernel fills in the sender).
        return start;
    }

    public readonly void EndMessage(int start) => PatchLength32(start);

    /// <summary>struct ifinfomsg.</summary>
    public void WriteIfInfo(int index, uint flags = 0, uint change = 0)
    {
        Span<byte> body = Reserve(RtnetlinkProtocol.IfInfoLength);
        body[0] = RtnetlinkProtocol.AF_UNSPEC;
        BinaryPrimitives.WriteInt32LittleEndian(body[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(body[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(body[12..], change);
    }

    /// <summary>A family's fixed header after the nlmsghdr (struct nfgenmsg for nfnetlink).</summary>
    public void WriteFixedHeader(scoped ReadOnlySpan<byte> header) => header.CopyTo(Reserve(header.Length));

    /// <summary>A u32 attribute in network byte order (nf_tables' NLA_BE32).</summary>
    public void WriteUInt32BigEndian(ushort type, uint value) =>
        BinaryPrimitives.WriteUInt32BigEndian(ReserveAttribute(type, sizeof(uint)), value);

    /// <summary>struct ifaddrmsg, all zero: every family, every link.</summary>
    public void WriteIfAddr() => Reserve(RtnetlinkProtocol.IfAddrLength);

    public void WriteAttribute(ushort type, scoped ReadOnlySpan<byte> value) =>
        value.CopyTo(ReserveAttribute(type, value.Length));

    public void WriteUInt32(ushort type, uint value) =>
        BinaryPrimitives.WriteUInt32LittleEndian(ReserveAttribute(type, sizeof(uint)), value);

    /// <summary>A NUL-terminated UTF-8 string attribute.</summary>
    public void WriteString(ushort type, string value)
    {
        int byteCount = Encoding.UTF8.GetByteCount(value);
        Span<byte> destination = ReserveAttribute(type, byteCount + 1);
        Encoding.UTF8.GetBytes(value, destination);
        destination[byteCount] = 0;
    }

    /// <summary>Starts a nested attribute (NLA_F_NESTED set); returns its offset for <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        ReserveAttribute((ushort)(type | NetlinkProtocol.NLA_F_NESTED), 0);
        return start;
    }

    public readonly void EndNested(int start)
    {
        int length = _length - start;
        if (length > ushort.MaxValue) throw new InvalidOperationException($"nested netlink attribute of {length} bytes");
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)length);
    }

    private Span<byte> ReserveAttribute(ushort type, int valueLength)
    {
        int length = NetlinkProtocol.AttributeHeaderLength + valueLength;
        if (length > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(valueLength), $"netlink attribute of {length} bytes");
        Span<byte> attribute = Reserve(length);
        BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(attribute[2..], type);
        return attribute[NetlinkProtocol.AttributeHeaderLength..];
    }

    /// <summary>Appends <paramref name="length"/> zeroed bytes plus padding to the next 4-byte boundary.</summary>
    private Span<byte> Reserve(int length)
    {
        int aligned = NetlinkProtocol.Align(length);
        EnsureCapacity(_length + aligned);
        Span<byte> reserved = _buffer.AsSpan(_length, aligned);
        reserved.Clear();
        _length += aligned;
        return reserved[..length];
    }

    private void EnsureCapacity(int needed)
    {
        _buffer ??= new byte[DefaultCapacity];   // default(NetlinkWriter)
        if (needed <= _buffer.Length) return;
        Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
    }

    private readonly void PatchLength32(int start) =>
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start), (uint)(_length - start));
}
