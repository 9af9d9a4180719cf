using LibvirtShim.Net;
using static LibvirtShim.Netfilter.NfTablesProtocol;

namespace LibvirtShim.Netfilter;

/// <summary>The guard of one link: its name (the device its chain hooks), the guest's MAC, the mode and the addresses.</summary>
internal sealed record LinkGuard(string Link, MacAddress Mac, GuardMode Mode, IReadOnlyList<IpPrefix> Ips);

/// <summary>
/// One comparison of a rule: bytes of the frame (from the Ethernet header, or from the transport header the kernel found)
/// under an optional mask, or the layer-4 protocol the kernel found (<see cref="MatchKind.L4Proto"/>, one byte). A rule
/// whose comparison cannot be made (no transport header: a malformed or truncated packet) does not match.
/// </summary>
internal readonly record struct Match(MatchKind Kind, uint Offset, byte[] Value, byte[]? Mask = null, bool NotEqual = false)
{
    public static Match Frame(uint offset, byte[] value, byte[]? mask = null, bool notEqual = false) =>
        new(MatchKind.Frame, offset, value, mask, notEqual);

    public static Match Transport(uint offset, params byte[] value) => new(MatchKind.Transport, offset, value);

    public static Match L4(byte protocol) => new(MatchKind.L4Proto, 0, [protocol]);

    /// <summary>Any protocol the kernel could find: the packet's headers parsed (an IPv6 header chain complete in the first fragment).</summary>
    public static Match L4Parsed => new(MatchKind.L4Proto, 0, [0xff], NotEqual: true);
}

internal enum MatchKind { Frame, Transport, L4Proto }

/// <summary>accept, drop (counted), goto/jump to a chain of the same table, or return.</summary>
internal readonly record struct Verdict(int Code, string? Chain = null)
{
    public static Verdict Accept => new(NF_ACCEPT);
    public static Verdict Drop => new(NF_DROP);
    public static Verdict Return => new(NFT_RETURN);
    public static Verdict Goto(string chain) => new(NFT_GOTO, chain);
    public static Verdict Jump(string chain) => new(NFT_JUMP, chain);
}

internal sealed record Rule(IReadOnlyList<Match> Matches, Verdict Verdict)
{
    /// <summary>Drops are counted, so that status and tests can tell how many frames a guard stopped.</summary>
    public bool Counted => Verdict.Code == NF_DROP;
}

/// <summary>A chain: a base chain hooked to a device's egress (what the guest sends) when <see cref="Device"/> is set.</summary>
internal sealed record ChainSpec(string Name, string? Device, bool PolicyAccept, string? Comment, IReadOnlyList<Rule> Rules);

/// <summary>
/// The chains of one link's guard, in the order they must be created (a chain exists before a rule jumps to it).
/// mac: one base chain, accept by policy, dropping a frame whose source MAC is not the guest's.
/// ip: a base chain that drops a foreign source MAC and sends ARP, IPv4 and IPv6 to a chain each and drops every other
/// ethertype (a VLAN tag included, which would hide the rest); each family's chain accepts only what it lists.
/// </summary>
internal static class GuardRuleset
{
    private const uint EthernetHeader = 14;
    private const byte Udp = 17;
    private const byte Icmpv6 = 58;

    private const string CommentPrefix = "libvirt-shim guard=";

    public static string CommentFor(LinkGuard guard) => $"{CommentPrefix}{guard.Mode.Name()} mac={guard.Mac}";

    /// <summary>The mode a base chain's comment names, as <see cref="CommentFor"/> writes it; null for any other comment.</summary>
    public static GuardMode? ModeOf(string? comment)
    {
        if (comment is null || !comment.StartsWith(CommentPrefix, StringComparison.Ordinal)) return null;
        string rest = comment[CommentPrefix.Length..];
        int end = rest.IndexOf(' ');
        return GuardModes.TryParse(end < 0 ? rest : rest[..end], out GuardMode mode) && mode != GuardMode.Off ? mode : null;
    }

    /// <summary>The chains of <paramref name="guard"/>; <see cref="GuardMode.Off"/> has none.</summary>
    public static IReadOnlyList<ChainSpec> Chains(LinkGuard guard) => guard.Mode switch
    {
        GuardMode.Mac => [new ChainSpec(guard.Link, guard.Link, PolicyAccept: true, CommentFor(guard), [ForeignSourceMac(guard.Mac)])],
        GuardMode.Ip => IpChains(guard),
        _ => [],
    };

    /// <summary>The names of a link's chains, base chain first, then each chain before the chains it jumps to.</summary>
    public static IEnumerable<string> ChainNames(string link) => [link, Ip6(link), Na(link), Arp(link), Ip4(link)];

    private static string Arp(string link) => link + "-arp";
    private static string Ip4(string link) => link + "-ip4";
    private static string Ip6(string link) => link + "-ip6";
    private static string Na(string link) => link + "-na";

    private static Rule ForeignSourceMac(MacAddress mac) => new([Match.Frame(6, MacBytes(mac), notEqual: true)], Verdict.Drop);

    private static IReadOnlyList<ChainSpec> IpChains(LinkGuard guard)
    {
        string link = guard.Link;
        var v4 = guard.Ips.Where(p => p.IsV4).ToList();
        var v6 = guard.Ips.Where(p => !p.IsV4).Prepend(IpPrefix.LinkLocal(guard.Mac)).Distinct().ToList();
        return
        [
            new ChainSpec(Arp(link), null, PolicyAccept: false, null, ArpRules(guard.Mac, v4)),
            new ChainSpec(Ip4(link), null, PolicyAccept: false, null, Ip4Rules(v4)),
            new ChainSpec(Na(link), null, PolicyAccept: false, null, NeighbourAdvertisementRules(v6)),
            new ChainSpec(Ip6(link), null, PolicyAccept: false, null, Ip6Rules(link, v6)),
            new ChainSpec(link, link, PolicyAccept: false, CommentFor(guard),
            [
                ForeignSourceMac(guard.Mac),
                new Rule([EtherType(0x0806)], Verdict.Goto(Arp(link))),
                new Rule([EtherType(0x0800)], Verdict.Goto(Ip4(link))),
                new Rule([EtherType(0x86dd)], Verdict.Goto(Ip6(link))),
                new Rule([], Verdict.Drop),
            ]),
        ];
    }

    /// <summary>
    /// ARP for IPv4 over Ethernet only, the guest's MAC as sender hardware address and a sender address of its own, or
    /// 0.0.0.0 (an ARP probe, RFC 5227).
    /// </summary>
    private static List<Rule> ArpRules(MacAddress mac, List<IpPrefix> v4)
    {
        var rules = new List<Rule>();
        foreach (IpPrefix prefix in v4.Prepend(new IpPrefix(System.Net.IPAddress.Any, 32)))
        {
            rules.Add(new Rule(
            [
                Match.Frame(EthernetHeader, [0x00, 0x01, 0x08, 0x00, 0x06, 0x04]),   // Ethernet, IPv4, 6-byte and 4-byte addresses
                Match.Frame(EthernetHeader + 8, MacBytes(mac)),
                Address(EthernetHeader + 14, prefix),
            ], Verdict.Accept));
        }
        rules.Add(new Rule([], Verdict.Drop));
        return rules;
    }

    /// <summary>
    /// No DHCP server (UDP from port 67, or to a client's port 68); then sources of the guest's own, and 0.0.0.0 only for
    /// a DHCP client's DISCOVER and REQUEST (UDP 68 to 67).
    /// </summary>
    private static List<Rule> Ip4Rules(List<IpPrefix> v4)
    {
        var rules = new List<Rule>
        {
            new([Match.L4(Udp), Match.Transport(0, 0, 67)], Verdict.Drop),
            new([Match.L4(Udp), Match.Transport(2, 0, 68)], Verdict.Drop),
        };
        foreach (IpPrefix prefix in v4) rules.Add(new Rule([Address(EthernetHeader + 12, prefix), Match.L4Parsed], Verdict.Accept));
        rules.Add(new Rule([Match.Frame(EthernetHeader + 12, [0, 0, 0, 0]), Match.L4(Udp), Match.Transport(0, 0, 68, 0, 67)], Verdict.Accept));
        rules.Add(new Rule([], Verdict.Drop));
        return rules;
    }

    /// <summary>
    /// No router advertisement (ICMPv6 134) or redirect (137), no DHCPv6 server (UDP from 547, or to a client's 546);
    /// neighbour advertisements checked for their target; then sources of the guest's own (its EUI-64 link-local address
    /// always), and :: only for duplicate address detection, router solicitation and MLD reports.
    /// </summary>
    private static List<Rule> Ip6Rules(string link, List<IpPrefix> v6)
    {
        var rules = new List<Rule>
        {
            new([Match.L4(Icmpv6), Match.Transport(0, 134)], Verdict.Drop),
            new([Match.L4(Icmpv6), Match.Transport(0, 137)], Verdict.Drop),
            new([Match.L4(Udp), Match.Transport(0, 0x02, 0x23)], Verdict.Drop),
            new([Match.L4(Udp), Match.Transport(2, 0x02, 0x22)], Verdict.Drop),
            new([Match.L4(Icmpv6), Match.Transport(0, 136)], Verdict.Jump(Na(link))),
        };
        foreach (IpPrefix prefix in v6) rules.Add(new Rule([Address(EthernetHeader + 8, prefix), Match.L4Parsed], Verdict.Accept));
        foreach (byte type in new byte[] { 133, 135, 131, 143 })
            rules.Add(new Rule([Match.Frame(EthernetHeader + 8, new byte[16]), Match.L4(Icmpv6), Match.Transport(0, type)], Verdict.Accept));
        rules.Add(new Rule([], Verdict.Drop));
        return rules;
    }

    /// <summary>A neighbour advertisement only for an address of the guest's own (its target, 8 bytes into the ICMPv6 message).</summary>
    private static List<Rule> NeighbourAdvertisementRules(List<IpPrefix> v6)
    {
        var rules = v6.Select(prefix => new Rule([TransportAddress(8, prefix)], Verdict.Return)).ToList();
        rules.Add(new Rule([], Verdict.Drop));
        return rules;
    }

    private static Match EtherType(ushort type) => Match.Frame(12, [(byte)(type >> 8), (byte)type]);

    private static Match Address(uint offset, IpPrefix prefix) =>
        Match.Frame(offset, prefix.Bytes, prefix.Length == prefix.MaxLength ? null : prefix.Mask());

    private static Match TransportAddress(uint offset, IpPrefix prefix) =>
        new(MatchKind.Transport, offset, prefix.Bytes, prefix.Length == prefix.MaxLength ? null : prefix.Mask());

    private static byte[] MacBytes(MacAddress mac)
    {
        byte[] bytes = new byte[MacAddress.Length];
        mac.Write(bytes);
        return bytes;
    }
}
