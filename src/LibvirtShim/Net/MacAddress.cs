using System.Buffers.Binary;
using System.Globalization;

namespace LibvirtShim.Net;

/// <summary>A 48-bit Ethernet address, kept in the low bytes of a ulong.</summary>
internal readonly record struct MacAddress(ulong Value)
{
    public const int Length = 6;

    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17) return false;
        ulong value = 0;
        for (int i = 0; i < Length; i++)
        {
            if (i > 0 && text[i * 3 - 1] != ':') return false;
            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                return false;
            value = (value << 8) | b;
        }
        mac = new MacAddress(value);
        return true;
    }

    public static MacAddress Read(ReadOnlySpan<byte> bytes)
    {
        Span<byte> wide = stackalloc byte[8];
        wide.Clear();
        bytes[..Length].CopyTo(wide[2..]);
        return new MacAddress(BinaryPrimitives.ReadUInt64BigEndian(wide));
    }

    public void Write(Span<byte> destination)
    {
        Span<byte> wide = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(wide, Value);
        wide[2..].CopyTo(destination);
    }

    public bool IsMulticast => ((Value >> 40) & 1) != 0;

    public override string ToString() =>
        string.Create(17, Value, static (chars, value) =>
        {
            for (int i = 0; i < Length; i++)
            {
                if (i > 0) chars[i * 3 - 1] = ':';
                byte b = (byte)(value >> (8 * (Length - 1 - i)));
                b.TryFormat(chars[(i * 3)..], out _, "x2", CultureInfo.InvariantCulture);
            }
        });
}
