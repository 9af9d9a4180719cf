using System.Buffers.Binary;
using System.Text;

namespace LibvirtShim.Netlink;

/// <summary>One attribute: its type (flag bits removed) and value.</summary>
internal readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort type, ReadOnlySpan<byte> value)
    {
        Type = type;
        Value = value;
    }

    public ushort Type { get; }
    public ReadOnlySpan<byte> Value { get; }

    public uint AsUInt32() =>
        Value.Length >= sizeof(uint) ? BinaryPrimitives.ReadUInt32LittleEndian(Value)
        : throw NetlinkException.Malformed($"attribute {Type} has {Value.Length} bytes, expected a u32");

    public int AsInt32() => unchecked((int)AsUInt32());

    /// <summary>A string attribute, up to its first NUL.</summary>
    public string AsString()
    {
        int end = Value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? Value : Value[..end]);
    }

    public NetlinkAttributeReader Nested() => new(Value);
}

/// <summary>Enumerates the attributes in a span (foreach-able, no allocation).</summary>
internal ref struct NetlinkAttributeReader
{
    private ReadOnlySpan<byte> _remaining;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes)
    {
        _remaining = attributes;
        Current = default;
    }

    public NetlinkAttribute Current { get; private set; }

    public readonly NetlinkAttributeReader GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_remaining.Length < NetlinkProtocol.AttributeHeaderLength) return false;   // padding at most

        int length = BinaryPrimitives.ReadUInt16LittleEndian(_remaining);
        if (length < NetlinkProtocol.AttributeHeaderLength || length > _remaining.Length)
            throw NetlinkException.Malformed($"attribute length {length} with {_remaining.Length} bytes left");

        ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_remaining[2..]) & NetlinkProtocol.NLA_TYPE_MASK);
        Current = new NetlinkAttribute(type, _remaining[NetlinkProtocol.AttributeHeaderLength..length]);
        _remaining = _remaining[Math.Min(NetlinkProtocol.Align(length), _remaining.Length)..];
        return true;
    }
}
