using System.Text;
using LibvirtShim.Net;
using static LibvirtShim.Netfilter.NfTablesProtocol;

namespace LibvirtShim.Netfilter;

/// <summary>The guard of one link: its name (the device its chain hooks), the guest's MAC, the mode and the addresses.</summary>
internal sealed record LinkGuard(string Link, MacAddress Mac, GuardMode Mode, IReadOnlyList<IpPrefix> Ips);

/// <summary>
/// One comparison of a rule: bytes of the frame (from the Ethernet header, or from the transport header the kernel found)
/// under an optional mask; the layer-4 protocol the kernel found (<see cref="MatchKind.L4Proto"/>, one byte); or the
/// sending link's name with an address of the frame, looked up in a set (<see cref="MatchKind.LinkAddressIn"/>). A rule
/// whose comparison cannot be made (no transport header: a malformed or truncated packet) does not match.
/// </summary>
internal readonly record struct Match(MatchKind Kind, uint Offset, byte[] Value, byte[]? Mask = null, bool NotEqual = false, string? Set = null,
    bool FromTransport = false)
{
    public static Match Frame(uint offset, byte[] value, byte[]? mask = null, bool notEqual = false) =>
        new(MatchKind.Frame, offset, value, mask, notEqual);

    public static Match Transport(uint offset, params byte[] value) => new(MatchKind.Transport, offset, value);

    public static Match L4(byte protocol) => new(MatchKind.L4Proto, 0, [protocol]);

    /// <summary>Any protocol the kernel could find: the packet's headers parsed (an IPv6 header chain complete in the first fragment).</summary>
    public static Match L4Parsed => new(MatchKind.L4Proto, 0, [0xff], NotEqual: true);

    /// <summary>
    /// The link's name and <paramref name="length"/> bytes at <paramref name="offset"/> are (or, with <paramref name="notIn"/>, are
    /// not) in <paramref name="set"/>.
    /// </summary>
    public static Match LinkAddressIn(string set, uint offset, int length, bool transport = false, bool notIn = false) =>
        new(MatchKind.LinkAddressIn, offset, new byte[length], NotEqual: notIn, Set: set, FromTransport: transport);
}

internal enum MatchKind { Frame, Transport, L4Proto, LinkAddressIn }

/// <summary>accept, drop (counted), goto/jump to a chain of the same table, or return.</summary>
internal readonly record struct Verdict(int Code, string? Chain = null)
{
    public static Verdict Accept => new(NF_ACCEPT);
    public static Verdict Drop => new(NF_DROP);
    public static Verdict Goto(string chain) => new(NFT_GOTO, chain);
}

internal sealed record Rule(IReadOnlyList<Match> Matches, Verdict Verdict)
{
    /// <summary>Drops are counted, so that status and tests can tell how many frames a guard stopped.</summary>
    public bool Counted => Verdict.Code == NF_DROP;
}

/// <summary>A chain: a base chain hooked to a device's egress (what the guest sends) when <see cref="Device"/> is set.</summary>
internal sealed record ChainSpec(string Name, string? Device, bool PolicyAccept, string? Comment, IReadOnlyList<Rule> Rules);

/// <summary>
/// A set of (link name, address) pairs with ranges: keys are the 16-byte name (IFNAMSIZ, NUL-padded) then the address;
/// each element is a range from <see cref="SetElement.From"/> to <see cref="SetElement.To"/>, both included.
/// <see cref="KeyType"/> is nftables' type number, which only its listing reads.
/// </summary>
internal sealed record SetSpec(string Name, int AddressBytes, uint KeyType, IReadOnlyList<SetElement> Elements)
{
    /// <summary>Each field of a key takes whole 4-byte registers: a 6-byte MAC takes 8, its last 2 zero.</summary>
    public int KeyBytes => IfNameBytes + RegisterBytes(AddressBytes);

    public const int IfNameBytes = 16;

    public static int RegisterBytes(int bytes) => (bytes + 3) & ~3;
}

internal readonly record struct SetElement(byte[] From, byte[] To);

/// <summary>What one transaction puts in a domain's table: its sets, then its chains in the order they can be created.</summary>
internal sealed record TableSpec(IReadOnlyList<SetSpec> Sets, IReadOnlyList<ChainSpec> Chains)
{
    public int Rules => Chains.Sum(c => c.Rules.Count);
}

/// <summary>
/// The guard of a domain's links, as one table's content. Each guarded link has a base chain hooked to its egress (all the
/// guest sends), named after it. mac: accept by policy, one rule dropping a frame whose source MAC is not the guest's. ip:
/// the same rule, then a second going to chains the domain's ip links share, which look the link's name and the frame's
/// ARP sender and source address up in the sets of the domain's MACs and addresses (the links' ips=, each one's EUI-64
/// link-local address) and drop whatever they do not list: every ethertype but ARP, IPv4, IPv6 and QEMU's RARP announce
/// (a VLAN tag included, which would hide the rest), a DHCP or DHCPv6 server, a router advertisement or redirect, a
/// neighbour advertisement for another's address. Shared chains and sets keep the rules per link at two: a guard's cost
/// at prepare is mostly its rules; the source MAC stays a comparison in the link's own chain, which costs a frame less
/// than a lookup.
/// </summary>
internal static class GuardRuleset
{
    private const uint EthernetHeader = 14;
    private const byte Udp = 17;
    private const byte Icmpv6 = 58;
    private const string CommentPrefix = "libvirt-shim guard=";

    public const string IpChain = "ip";
    private const string ArpChain = "ip-arp";
    private const string Ip4Chain = "ip-v4";
    private const string Ip6Chain = "ip-v6";
    public const string MacSet = "mac";
    public const string V4Set = "v4";
    public const string V6Set = "v6";

    // nftables' type numbers (datatype.h), for its listing: ifname . ether_addr, ifname . ipv4_addr, ifname . ipv6_addr (6 bits a field).
    private const uint TypeIfName = 41, TypeIpv4 = 7, TypeIpv6 = 8, TypeEther = 9;

    public static string CommentFor(LinkGuard guard) => $"{CommentPrefix}{guard.Mode.Name()} mac={guard.Mac}";

    /// <summary>The mode a base chain's comment names, as <see cref="CommentFor"/> writes it; null for any other comment.</summary>
    public static GuardMode? ModeOf(string? comment)
    {
        if (comment is null || !comment.StartsWith(CommentPrefix, StringComparison.Ordinal)) return null;
        string rest = comment[CommentPrefix.Length..];
        int end = rest.IndexOf(' ');
        return GuardModes.TryParse(end < 0 ? rest : rest[..end], out GuardMode mode) && mode != GuardMode.Off ? mode : null;
    }

    /// <summary>
    /// The table's content for <paramref name="guards"/> (the unguarded left out); the shared chains and sets only when a link has
    /// guard='ip'.
    /// </summary>
    public static TableSpec Table(IReadOnlyList<LinkGuard> guards)
    {
        var ip = guards.Where(g => g.Mode == GuardMode.Ip).ToList();
        var chains = new List<ChainSpec>();
        var sets = new List<SetSpec>();
        if (ip.Count > 0)
        {
            sets.Add(new SetSpec(MacSet, MacAddress.Length, (TypeIfName << 6) | TypeEther, ip.Select(g => Element(g.Link, MacBytes(g.Mac))).ToList()));
            sets.Add(new SetSpec(V4Set, 4, (TypeIfName << 6) | TypeIpv4,
                ip.SelectMany(g => g.Ips.Where(p => p.IsV4).Select(p => Element(g.Link, p))).ToList()));
            sets.Add(new SetSpec(V6Set, 16, (TypeIfName << 6) | TypeIpv6,
                ip.SelectMany(g => g.Ips.Where(p => !p.IsV4).Prepend(IpPrefix.LinkLocal(g.Mac)).Distinct().Select(p => Element(g.Link, p)))
                    .ToList()));
            chains.AddRange(SharedChains());
        }
        foreach (LinkGuard guard in guards)
        {
            if (guard.Mode == GuardMode.Mac)
                chains.Add(new ChainSpec(guard.Link, guard.Link, PolicyAccept: true, CommentFor(guard), [ForeignSourceMac(guard.Mac)]));
            else if (guard.Mode == GuardMode.Ip)
                chains.Add(new ChainSpec(guard.Link, guard.Link, PolicyAccept: false, CommentFor(guard),
                    [ForeignSourceMac(guard.Mac), new Rule([], Verdict.Goto(IpChain))]));
        }
        return new TableSpec(sets, chains);
    }

    /// <summary>The chains the ip links share: by ethertype, then one per family. Created before the base chains that go to them.</summary>
    private static IEnumerable<ChainSpec> SharedChains() =>
    [
        new ChainSpec(ArpChain, null, PolicyAccept: false, null,
        [
            // ARP for IPv4 over Ethernet (6-byte and 4-byte addresses), the link's MAC as sender, from an address of the link's, or
            // 0.0.0.0 (a probe, RFC 5227).
            new Rule([ArpHeader, Match.LinkAddressIn(MacSet, EthernetHeader + 8, MacAddress.Length), Match.LinkAddressIn(V4Set, EthernetHeader + 14, 4)],
                Verdict.Accept),
            new Rule([ArpHeader, Match.LinkAddressIn(MacSet, EthernetHeader + 8, MacAddress.Length), Match.Frame(EthernetHeader + 14, [0, 0, 0, 0])],
                Verdict.Accept),
            new Rule([], Verdict.Drop),
        ]),
        new ChainSpec(Ip4Chain, null, PolicyAccept: false, null,
        [
            new Rule([Match.L4(Udp), Match.Transport(0, 0, 67)], Verdict.Drop),   // a DHCP server
            new Rule([Match.L4(Udp), Match.Transport(2, 0, 68)], Verdict.Drop),   // anything to a DHCP client
            new Rule([Match.LinkAddressIn(V4Set, EthernetHeader + 12, 4), Match.L4Parsed], Verdict.Accept),
            // 0.0.0.0 only for a DHCP client's DISCOVER and REQUEST (UDP 68 to 67).
            new Rule([Match.Frame(EthernetHeader + 12, [0, 0, 0, 0]), Match.L4(Udp), Match.Transport(0, 0, 68, 0, 67)], Verdict.Accept),
            new Rule([], Verdict.Drop),
        ]),
        new ChainSpec(Ip6Chain, null, PolicyAccept: false, null,
        [
            new Rule([Match.L4(Icmpv6), Match.Transport(0, 134)], Verdict.Drop),   // a router advertisement
            new Rule([Match.L4(Icmpv6), Match.Transport(0, 137)], Verdict.Drop),   // a redirect
            new Rule([Match.L4(Udp), Match.Transport(0, 0x02, 0x23)], Verdict.Drop),   // a DHCPv6 server (from 547)
            new Rule([Match.L4(Udp), Match.Transport(2, 0x02, 0x22)], Verdict.Drop),   // anything to a DHCPv6 client (546)
            // A neighbour advertisement only for an address of the link's (its target, 8 bytes into the ICMPv6 message).
            new Rule([Match.L4(Icmpv6), Match.Transport(0, 136), Match.LinkAddressIn(V6Set, 8, 16, transport: true, notIn: true)], Verdict.Drop),
            new Rule([Match.LinkAddressIn(V6Set, EthernetHeader + 8, 16), Match.L4Parsed], Verdict.Accept),
            // :: only for duplicate address detection, router solicitation and MLD reports.
            .. new byte[] { 135, 133, 143, 131 }.Select(type =>
                new Rule([Match.Frame(EthernetHeader + 8, new byte[16]), Match.L4(Icmpv6), Match.Transport(0, type)], Verdict.Accept)),
            new Rule([], Verdict.Drop),
        ]),
        new ChainSpec(IpChain, null, PolicyAccept: false, null,
        [
            new Rule([EtherType(0x0806)], Verdict.Goto(ArpChain)),
            new Rule([EtherType(0x0800)], Verdict.Goto(Ip4Chain)),
            new Rule([EtherType(0x86dd)], Verdict.Goto(Ip6Chain)),
            QemuAnnounce,
            new Rule([], Verdict.Drop),
        ]),
    ];

    /// <summary>
    /// QEMU's announce after a migration or restore, and the listener's repeat of it (<see cref="RarpAnnounce"/>): a broadcast
    /// RARP reverse request whose sender and target are the link's MAC, without protocol addresses. libvirt's clean-traffic
    /// filters let exactly this through (qemu-announce-self-rarp); without it a switch would not learn where the guest went.
    /// </summary>
    private static Rule QemuAnnounce => new(
    [
        Match.Frame(0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), EtherType(0x8035),
        Match.Frame(EthernetHeader, [0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03]),
        Match.LinkAddressIn(MacSet, EthernetHeader + 8, MacAddress.Length), Match.Frame(EthernetHeader + 14, [0, 0, 0, 0]),
        Match.LinkAddressIn(MacSet, EthernetHeader + 18, MacAddress.Length), Match.Frame(EthernetHeader + 24, [0, 0, 0, 0]),
    ], Verdict.Accept);

    private static Match ArpHeader => Match.Frame(EthernetHeader, [0x00, 0x01, 0x08, 0x00, 0x06, 0x04]);

    private static Rule ForeignSourceMac(MacAddress mac) => new([Match.Frame(6, MacBytes(mac), notEqual: true)], Verdict.Drop);

    private static Match EtherType(ushort type) => Match.Frame(12, [(byte)(type >> 8), (byte)type]);

    /// <summary>The link's name, NUL-padded to IFNAMSIZ as the kernel loads it, then the first and the last address of the prefix.</summary>
    private static SetElement Element(string link, IpPrefix prefix)
    {
        byte[] first = prefix.Bytes;
        byte[] mask = prefix.Mask();
        byte[] last = first.Select((b, i) => (byte)(b | ~mask[i])).ToArray();
        return new SetElement(Key(link, first), Key(link, last));
    }

    /// <summary>The link's name and one value (a MAC): a range of one.</summary>
    private static SetElement Element(string link, byte[] value) => new(Key(link, value), Key(link, value));

    /// <summary>The name, then the value, zero-padded to whole registers (as the kernel loads a 6-byte MAC: 8 bytes, the last 2 zero).</summary>
    private static byte[] Key(string link, byte[] address)
    {
        byte[] key = new byte[SetSpec.IfNameBytes + SetSpec.RegisterBytes(address.Length)];
        Encoding.UTF8.GetBytes(link, key);
        address.CopyTo(key, SetSpec.IfNameBytes);
        return key;
    }

    private static byte[] MacBytes(MacAddress mac)
    {
        byte[] bytes = new byte[MacAddress.Length];
        mac.Write(bytes);
        return bytes;
    }
}
