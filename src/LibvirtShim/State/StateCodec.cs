using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Text;
using System.Text.Unicode;
using LibvirtShim.Net;

namespace LibvirtShim.State;

/// <summary>
/// The state file: "LVSHIMST", version, payload length and XxHash64 of the payload, then the cursor and the records.
/// Anything that does not check out is refused with the reason, never half-read.
/// </summary>
internal static class StateCodec
{
    /// <summary>Version 2 keeps a created link's guard in the flags byte that version 1 used for "kept by definition" alone.</summary>
    public const uint Version = 2;

    /// <summary>The layout is the same; a version 1 file's flags byte is 0 or 1 (no guard).</summary>
    private const uint FirstReadableVersion = 1;

    private const byte KeptFlag = 1;
    private const int GuardShift = 1;
    private const byte GuardBits = 0b110;

    /// <summary>Far above any real state (a million records of 256 bytes); a larger file is not read at all.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;
    private static ReadOnlySpan<byte> Magic => "LVSHIMST"u8;
    private const int HeaderLength = 8 + 4 + 4 + 8;

    public static byte[] Encode(NameState state)
    {
        byte[]? file = null;
        int length = Encode(state, ref file);
        return file.Length == length ? file : file[..length];
    }

    /// <summary>
    /// Writes the file's bytes into <paramref name="buffer"/>, replaced by a larger one when it is too small, and
    /// returns their length: sized in a first pass, then written once, unchanged records copied as they were read.
    /// A buffer reused from call to call keeps its pages: a state of thousands of records is not faulted in afresh.
    /// </summary>
    public static int Encode(NameState state, [NotNull] ref byte[]? buffer)
    {
        int payloadLength = 8;
        foreach (StoredRecord stored in state.Stored())
            payloadLength += stored.Changed is { } r
                ? FixedRecordBytes + TextBytes(r.Name) + TextBytes(r.DomainName) + TextBytes(r.Lower)
                : stored.Unchanged.Length;

        int length = HeaderLength + payloadLength;
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<byte>(length);
        Span<byte> file = buffer.AsSpan(0, length);
        var w = new Writer(file[HeaderLength..]);
        w.U32(state.Cursor);
        w.U32((uint)state.Count);
        foreach (StoredRecord stored in state.Stored())
        {
            if (stored.Changed is { } r) w.Record(r);
            else w.Bytes(stored.Unchanged.Span);
        }
        Span<byte> payload = file[HeaderLength..];
        Magic.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(file[12..], (uint)payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(file[16..], XxHash64.HashToUInt64(payload));
        return length;
    }

    /// <summary>Holding, UUID, MAC, mode, ifindex, expiry, kept flag, and the three text lengths.</summary>
    private const int FixedRecordBytes = 1 + 16 + 8 + 4 + 4 + 8 + 1 + 3 * 2;

    private static int TextBytes(string value) => Encoding.UTF8.GetByteCount(Fitted(value));

    private const int MaxTextBytes = ushort.MaxValue;

    /// <summary>
    /// The part of a text the state keeps: all of it, unless its UTF-8 is longer than a length field can say (a
    /// domain name of megabytes), then its first characters up to that many bytes. Names are 15 bytes at most; a
    /// domain name is shown, and found by UUID.
    /// </summary>
    private static ReadOnlySpan<char> Fitted(string value)
    {
        if (value.Length <= MaxTextBytes / 3) return value;
        int bytes = 0;
        for (int i = 0; i < value.Length; i++)
        {
            bool pair = char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]);
            int length = pair ? 4 : value[i] < 0x80 ? 1 : value[i] < 0x800 ? 2 : 3;
            if (bytes + length > MaxTextBytes) return value.AsSpan(0, i);
            bytes += length;
            if (pair) i++;
        }
        return value;
    }

    public static NameState Decode(ReadOnlySpan<byte> file, NameScheme scheme) => Decode(file.ToArray(), scheme);

    /// <summary>The state in <paramref name="file"/>, which it keeps: every record is checked now, and read when asked for.</summary>
    public static NameState Decode(byte[] file, NameScheme scheme)
    {
        if (file.Length < HeaderLength || !file.AsSpan(0, 8).SequenceEqual(Magic))
            throw new StateFormatException("not a libvirt-shim state file");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8));
        if (version is < FirstReadableVersion or > Version)
            throw new StateFormatException($"state file version {version}, this libvirt-shim reads versions {FirstReadableVersion} to {Version}");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));
        ReadOnlySpan<byte> payload = file.AsSpan(HeaderLength);
        if (payload.Length != length)
            throw new StateFormatException($"state file is {payload.Length} bytes after its header, expected {length} (truncated or torn)");
        if (XxHash64.HashToUInt64(payload) != BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(16)))
            throw new StateFormatException("state file checksum does not match");
        try
        {
            return CheckRecords(file, scheme);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or DecoderFallbackException)
        {
            throw new StateFormatException("state file records are malformed");
        }
    }

    /// <summary>
    /// Walks every record. One whose name is not a link name the kernel accepts, held twice, with an unknown holding or
    /// texts that are not UTF-8 is skipped with the reason, and the others kept: only a file whose records cannot be
    /// told apart is refused as a whole.
    /// </summary>
    private static NameState CheckRecords(byte[] file, NameScheme scheme)
    {
        var r = new Reader(file.AsSpan(HeaderLength));
        uint cursor = r.U32() % (uint)scheme.Capacity;
        uint count = r.U32();
        var stored = new StoredRecords(file, scheme, (int)Math.Min(count, (uint)(file.Length / (FixedRecordBytes + 1))));
        var skipped = new List<string>();
        for (uint i = 0; i < count; i++)
        {
            int offset = file.Length - r.Remaining;
            ReadOnlySpan<byte> name = r.TextBytes();
            var holding = (Holding)r.Byte();
            r.Guid();
            bool textsValid = Utf8.IsValid(r.TextBytes());
            r.U64();
            textsValid &= Utf8.IsValid(r.TextBytes());
            r.U32();
            r.U32();
            r.U64();
            r.Byte();
            string? fieldProblem = holding is < Holding.Reserved or > Holding.Foreign ? $"unknown holding {(byte)holding}"
                : textsValid ? null : "its domain name or lower device is not UTF-8";
            if (stored.Add(name, offset, fieldProblem) is { } problem) skipped.Add($"state file record {i} skipped: {problem}");
        }
        if (!r.AtEnd) throw new StateFormatException("state file has bytes after its last record");
        stored.End(file.Length);
        return new NameState(scheme, cursor, stored) { Skipped = skipped };
    }

    /// <summary>One record from its stored bytes, which <see cref="CheckRecords"/> has checked.</summary>
    internal static NameRecord ReadRecord(ReadOnlySpan<byte> stored)
    {
        var r = new Reader(stored);
        return new NameRecord(
            Name: r.Text(),
            Holding: (Holding)r.Byte(),
            Domain: r.Guid(),
            DomainName: r.Text(),
            Mac: new MacAddress(r.U64()),
            Lower: r.Text(),
            Mode: (MacvtapMode)r.U32(),
            Ifindex: (int)r.U32(),
            ExpiresAt: (long)r.U64(),
            InDefinitionToo: (r.Peek() & KeptFlag) != 0,
            Guard: (GuardMode)((r.Byte() & GuardBits) >> GuardShift));
    }

    private ref struct Writer(Span<byte> output)
    {
        private Span<byte> _rest = output;

        public void Record(NameRecord r)
        {
            Text(r.Name);
            Byte((byte)r.Holding);
            Guid(r.Domain);
            Text(r.DomainName);
            U64(r.Mac.Value);
            Text(r.Lower);
            U32((uint)r.Mode);
            U32((uint)r.Ifindex);
            U64((ulong)r.ExpiresAt);
            Byte((byte)((r.InDefinitionToo ? KeptFlag : 0) | (((byte)r.Guard << GuardShift) & GuardBits)));
        }

        public void Bytes(ReadOnlySpan<byte> value) => value.CopyTo(Take(value.Length));
        private void Byte(byte value) => Take(1)[0] = value;
        public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);
        private void U64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);
        private void Guid(Guid value) => value.TryWriteBytes(Take(16));

        private void Text(string value)
        {
            Span<byte> lengthField = Take(2);
            int written = Encoding.UTF8.GetBytes(Fitted(value), _rest);
            BinaryPrimitives.WriteUInt16LittleEndian(lengthField, (ushort)written);
            _rest = _rest[written..];
        }

        private Span<byte> Take(int count)
        {
            Span<byte> taken = _rest[..count];
            _rest = _rest[count..];
            return taken;
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> input)
    {
        private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
        private ReadOnlySpan<byte> _rest = input;

        public readonly bool AtEnd => _rest.IsEmpty;
        public readonly int Remaining => _rest.Length;
        public byte Byte() => Take(1)[0];
        public readonly byte Peek() => _rest[0];
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        public Guid Guid() => new(Take(16));
        public string Text() => StrictUtf8.GetString(TextBytes());
        public ReadOnlySpan<byte> TextBytes() => Take(BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));

        private ReadOnlySpan<byte> Take(int count)
        {
            ReadOnlySpan<byte> taken = _rest[..count];
            _rest = _rest[count..];
            return taken;
        }
    }
}

internal sealed class StateFormatException(string message) : Exception(message);
