using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using LibvirtShim.Net;

namespace LibvirtShim.Naming;

/// <summary>
/// The state file: "LVSHIMST", version, payload length and XxHash64 of the payload, then the cursor and the records.
/// Anything that does not check out is refused with the reason, never half-read.
/// </summary>
internal static class StateCodec
{
    public const uint Version = 1;

    /// <summary>Far above any real state (a million records of 256 bytes); a larger file is not read at all.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;
    private static ReadOnlySpan<byte> Magic => "LVSHIMST"u8;
    private const int HeaderLength = 8 + 4 + 4 + 8;

    public static byte[] Encode(NameState state)
    {
        var payload = new ArrayBufferWriter<byte>(64 + state.Count * 64);
        var w = new Writer(payload);
        w.U32(state.Cursor);
        w.U32((uint)state.Count);
        foreach (NameRecord r in state.Records)
        {
            w.Text(r.Name);
            w.Byte((byte)r.Holding);
            w.Guid(r.Domain);
            w.Text(r.DomainName);
            w.U64(r.Mac.Value);
            w.Text(r.Lower);
            w.U32((uint)r.Mode);
            w.U32((uint)r.Ifindex);
            w.U64((ulong)r.ExpiresAt);
            w.Byte(r.KeptByDefinition ? (byte)1 : (byte)0);
        }

        var file = new byte[HeaderLength + payload.WrittenCount];
        Magic.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), (uint)payload.WrittenCount);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(16), XxHash64.HashToUInt64(payload.WrittenSpan));
        payload.WrittenSpan.CopyTo(file.AsSpan(HeaderLength));
        return file;
    }

    public static NameState Decode(ReadOnlySpan<byte> file, NameScheme scheme)
    {
        if (file.Length < HeaderLength || !file[..8].SequenceEqual(Magic))
            throw new StateFormatException("not a libvirt-shim state file");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(file[8..]);
        if (version != Version)
            throw new StateFormatException($"state file version {version}, this libvirt-shim reads version {Version}");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(file[12..]);
        ReadOnlySpan<byte> payload = file[HeaderLength..];
        if (payload.Length != length)
            throw new StateFormatException($"state file is {payload.Length} bytes after its header, expected {length} (truncated or torn)");
        if (XxHash64.HashToUInt64(payload) != BinaryPrimitives.ReadUInt64LittleEndian(file[16..]))
            throw new StateFormatException("state file checksum does not match");
        try
        {
            return DecodePayload(payload, scheme);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or DecoderFallbackException)
        {
            throw new StateFormatException("state file records are malformed");
        }
    }

    private static NameState DecodePayload(ReadOnlySpan<byte> payload, NameScheme scheme)
    {
        var r = new Reader(payload);
        var state = new NameState(scheme, r.U32() % (uint)scheme.Capacity);
        uint count = r.U32();
        for (uint i = 0; i < count; i++)
        {
            var record = new NameRecord(
                Name: r.Text(),
                Holding: (Holding)r.Byte(),
                Domain: r.Guid(),
                DomainName: r.Text(),
                Mac: new MacAddress(r.U64()),
                Lower: r.Text(),
                Mode: (MacvtapMode)r.U32(),
                Ifindex: (int)r.U32(),
                ExpiresAt: (long)r.U64(),
                KeptByDefinition: r.Byte() != 0);
            if (!Enum.IsDefined(record.Holding) || !InterfaceName.IsValid(record.Name) || state.IsHeld(record.Name))
                throw new StateFormatException($"state file record {i} is invalid");
            state.Put(record);
        }
        if (!r.AtEnd) throw new StateFormatException("state file has bytes after its last record");
        return state;
    }

    private readonly ref struct Writer(ArrayBufferWriter<byte> output)
    {
        private readonly ArrayBufferWriter<byte> _output = output;

        public void Byte(byte value) { _output.GetSpan(1)[0] = value; _output.Advance(1); }
        public void U32(uint value) { BinaryPrimitives.WriteUInt32LittleEndian(_output.GetSpan(4), value); _output.Advance(4); }
        public void U64(ulong value) { BinaryPrimitives.WriteUInt64LittleEndian(_output.GetSpan(8), value); _output.Advance(8); }
        public void Guid(Guid value) { value.TryWriteBytes(_output.GetSpan(16)); _output.Advance(16); }

        public void Text(string value)
        {
            int length = Encoding.UTF8.GetByteCount(value);
            if (length > ushort.MaxValue) throw new ArgumentException("text too long for the state file", nameof(value));
            BinaryPrimitives.WriteUInt16LittleEndian(_output.GetSpan(2), (ushort)length);
            _output.Advance(2);
            _output.Advance(Encoding.UTF8.GetBytes(value, _output.GetSpan(length)));
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> input)
    {
        private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
        private ReadOnlySpan<byte> _rest = input;

        public readonly bool AtEnd => _rest.IsEmpty;
        public byte Byte() => Take(1)[0];
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        public Guid Guid() => new(Take(16));
        public string Text() => StrictUtf8.GetString(Take(BinaryPrimitives.ReadUInt16LittleEndian(Take(2))));

        private ReadOnlySpan<byte> Take(int count)
        {
            ReadOnlySpan<byte> taken = _rest[..count];
            _rest = _rest[count..];
            return taken;
        }
    }
}

internal sealed class StateFormatException(string message) : Exception(message);
