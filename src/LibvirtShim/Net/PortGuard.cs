using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LibvirtShim.Net;

/// <summary>What a guard lets a guest send through its NIC (<c>guard=</c> on a <c>&lt;shim:link&gt;</c>, the <c>Guard</c> setting).</summary>
internal enum GuardMode : byte
{
    /// <summary>No guard: the guest sends anything.</summary>
    Off = 0,
    /// <summary>Frames leave only with the guest's own source MAC.</summary>
    Mac = 1,
    /// <summary>As <see cref="Mac"/>, and IPv4, ARP and IPv6 only from the guest's addresses; no DHCP server, no router.</summary>
    Ip = 2,
}

internal static class GuardModes
{
    public const string Choices = "mac, ip or off";

    public static bool TryParse(string? text, out GuardMode mode)
    {
        switch (text)
        {
            case "off": mode = GuardMode.Off; return true;
            case "mac": mode = GuardMode.Mac; return true;
            case "ip": mode = GuardMode.Ip; return true;
            default: mode = default; return false;
        }
    }

    /// <summary>A value already checked (the Guard setting after validation); anything else is off.</summary>
    public static GuardMode Parse(string text) => TryParse(text, out GuardMode mode) ? mode : GuardMode.Off;

    public static string Name(this GuardMode mode) => mode switch
    {
        GuardMode.Off => "off",
        GuardMode.Mac => "mac",
        GuardMode.Ip => "ip",
        _ => $"guard{(byte)mode}",
    };
}

/// <summary>
/// An address a guarded guest may send from: one address (a /32 or /128) or a prefix (for SLAAC and privacy addresses),
/// its host bits zero. <see cref="Bytes"/> is the network address in network order (4 or 16 bytes).
/// </summary>
internal readonly record struct IpPrefix(IPAddress Network, int Length)
{
    /// <summary>How many entries one <c>ips=</c> takes: each is a rule per packet family in the kernel.</summary>
    public const int MaxPerNic = 64;

    public bool IsV4 => Network.AddressFamily == AddressFamily.InterNetwork;

    public int MaxLength => IsV4 ? 32 : 128;

    public byte[] Bytes => Network.GetAddressBytes();

    /// <summary>The mask in network order, as long as the address.</summary>
    public byte[] Mask()
    {
        var mask = new byte[IsV4 ? 4 : 16];
        for (int bit = 0; bit < Length; bit++) mask[bit / 8] |= (byte)(0x80 >> (bit % 8));
        return mask;
    }

    public override string ToString() => Length == MaxLength ? Network.ToString() : $"{Network}/{Length.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// One entry of <c>ips=</c>: "192.0.2.10", "2001:db8::10", "2001:db8:1::/64". Null when it parses; otherwise what is wrong.
    /// IPv4 only in dotted-quad form (no "10.1", no leading zeros), no zone, no multicast, loopback or unspecified address,
    /// and no host bits set under a prefix.
    /// </summary>
    public static string? Problem(string text, out IpPrefix prefix)
    {
        prefix = default;
        int slash = text.IndexOf('/');
        string address = slash < 0 ? text : text[..slash];
        if (!TryParseAddress(address, out IPAddress? ip)) return "is not an IPv4 or IPv6 address or prefix";
        int max = ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int length = max;
        if (slash >= 0 && !TryParseLength(text.AsSpan(slash + 1), max, out length))
            return $"has a prefix length that is not a whole number from 0 to {max}";
        if (length == max && IsUnusableSource(ip)) return "is a multicast, loopback or unspecified address, which no guest sends from";
        prefix = new IpPrefix(ip, length);
        byte[] bytes = ip.GetAddressBytes();
        byte[] mask = prefix.Mask();
        for (int i = 0; i < bytes.Length; i++)
        {
            if ((bytes[i] & ~mask[i]) != 0)
                return $"has bits set outside its /{length} (the prefix is {Masked(bytes, mask)}/{length}; one address is written without /)";
        }
        return null;
    }

    private static bool TryParseAddress(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? ip)
    {
        ip = null;
        if (text.Contains('%')) return false;
        if (text.Contains(':')) return IPAddress.TryParse(text, out ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
        string[] parts = text.Split('.');
        if (parts.Length != 4) return false;
        foreach (string part in parts)
        {
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0') || !part.All(char.IsAsciiDigit)) return false;
            if (int.Parse(part, CultureInfo.InvariantCulture) > 255) return false;
        }
        return IPAddress.TryParse(text, out ip);
    }

    private static bool TryParseLength(ReadOnlySpan<char> text, int max, out int length) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out length) && length <= max
        && (text.Length == 1 || text[0] != '0');

    private static bool IsUnusableSource(IPAddress ip) =>
        ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) || IPAddress.IsLoopback(ip) || ip.IsIPv6Multicast
        || (ip.AddressFamily == AddressFamily.InterNetwork && ip.GetAddressBytes()[0] >= 224);

    private static string Masked(byte[] bytes, byte[] mask)
    {
        var network = new byte[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) network[i] = (byte)(bytes[i] & mask[i]);
        return new IPAddress(network).ToString();
    }

    /// <summary>
    /// The IPv6 link-local address a MAC gives by EUI-64 (RFC 4291): fe80::, the MAC with ff:fe in its middle and the U/L bit flipped.
    /// </summary>
    public static IpPrefix LinkLocal(MacAddress mac)
    {
        Span<byte> m = stackalloc byte[MacAddress.Length];
        mac.Write(m);
        byte[] address = new byte[16];
        address[0] = 0xfe;
        address[1] = 0x80;
        address[8] = (byte)(m[0] ^ 0x02);
        address[9] = m[1];
        address[10] = m[2];
        address[11] = 0xff;
        address[12] = 0xfe;
        address[13] = m[3];
        address[14] = m[4];
        address[15] = m[5];
        return new IpPrefix(new IPAddress(address), 128);
    }
}
