using LibvirtShim.Listener;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;
using static LibvirtShim.Tests.TestSupport.TestFrames;

namespace LibvirtShim.Tests.Guard;

/// <summary>
/// The guard as a guest meets it: a domain prepared by the hook in a network namespace, frames written into its macvtap's
/// tap as QEMU writes them, and a capture on the far end of the lower device's veth (the LAN) telling which arrived. Every
/// rule is shown both ways: what it lets through, and what it stops. Frames the guard drops never leave the host.
/// </summary>
public sealed class GuardRulesTests : IDisposable
{
    private const string Ips = "192.0.2.10,198.51.100.0/24,2001:db8:1::10,2001:db8:2::/64";
    private static readonly MacAddress Guest = MacAddress.TryParse(TestDomains.Mac(1, 0), out MacAddress m) ? m : default;
    private static readonly MacAddress Other = new(0x52_54_00_99_99_99);
    private static readonly string LinkLocal = IpPrefix.LinkLocal(Guest).Network.ToString();

    private readonly HookHarness _host = HookHarness.Create();
    private readonly TapGuest _guest;
    private readonly LanCapture _lan;

    public GuardRulesTests()
    {
        string xml = TestDomains.Owned("web1", TestDomains.Uuid(1),
            [new TestNic(Guest.ToString(), "mvtap0", LinkAttributes: $"guard='ip' ips='{Ips}'")]);
        HookResult prepared = _host.Run("web1", "prepare", "begin", xml);
        Assert.True(prepared.ExitCode == 0, prepared.Stderr);
        _guest = TapGuest.Open(_host.Ns, "mvtap0");
        _lan = LanCapture.Open(_host.Ns, "uplink0p");
    }

    public static TheoryData<string, bool> Frames => new()
    {
        { "IPv4 from its own address", true },
        { "IPv4 from an address of its prefix", true },
        { "IPv4 from a foreign address", false },
        { "IPv4 with a foreign source MAC", false },
        { "DHCP DISCOVER from 0.0.0.0", true },
        { "other UDP from 0.0.0.0", false },
        { "a DHCP server's OFFER (from port 67)", false },
        { "UDP to a client's port 68", false },
        { "ARP request from its own address", true },
        { "ARP probe from 0.0.0.0", true },
        { "ARP for another's address (spoofed sender IP)", false },
        { "ARP with a foreign sender MAC", false },
        { "IPv6 from its EUI-64 link-local address", true },
        { "IPv6 from its own address", true },
        { "IPv6 from an address of its prefix (SLAAC)", true },
        { "IPv6 from a foreign address", false },
        { "a router advertisement", false },
        { "a redirect", false },
        { "a DHCPv6 server's ADVERTISE (from port 547)", false },
        { "UDP to a DHCPv6 client's port 546", false },
        { "DHCPv6 SOLICIT from its link-local address", true },
        { "a neighbour solicitation for DAD from ::", true },
        { "a router solicitation from ::", true },
        { "an MLD report from :: behind a hop-by-hop header", true },
        { "other ICMPv6 from ::", false },
        { "a neighbour advertisement for its own address", true },
        { "a neighbour advertisement for another's address", false },
        { "QEMU's announce (a broadcast RARP reverse request for its MAC)", true },
        { "a RARP announce of another's MAC", false },
        { "a RARP reply", false },
        { "a VLAN-tagged frame", false },
        { "an unknown ethertype", false },
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void A_guarded_guest_sends_only_as_itself(string what, bool passes)
    {
        byte[] tag = NewTag();
        _guest.Send(Frame(what, tag));
        // A frame known to pass, sent after: once it has arrived, the frame before it has been decided.
        byte[] marker = NewTag();
        _guest.Send(Ping4(Guest, "192.0.2.10", "192.0.2.1", marker));
        Assert.True(_lan.WaitFor(f => Carries(f, marker), TimeSpan.FromSeconds(10)), "the frame sent after it never reached the LAN");
        Assert.True(_lan.Frames.Any(f => Carries(f, tag)) == passes, $"{what}: expected it to be {(passes ? "passed" : "dropped")}");
    }

    [Fact]
    public void The_listeners_announce_leaves_a_guarded_link()
    {
        using LinkTable table = _host.Ns.OpenLinkTable();
        Link link = Assert.NotNull(table.Find(["mvtap0"])[0]);
        using MacAnnouncer announcer = _host.Ns.InNamespace(MacAnnouncer.Open);

        Assert.Equal(Errno.None, announcer.Announce(link));
        Assert.True(_lan.WaitFor(f => f.Length >= 14 && f[12] == 0x80 && f[13] == 0x35 && f.AsSpan(6, 6).SequenceEqual(MacBytes(Guest)),
            TimeSpan.FromSeconds(10)), "the announce never reached the LAN");
    }

    private static byte[] MacBytes(MacAddress mac)
    {
        byte[] bytes = new byte[MacAddress.Length];
        mac.Write(bytes);
        return bytes;
    }

    private static byte[] Frame(string what, byte[] tag) => what switch
    {
        "IPv4 from its own address" => Ping4(Guest, "192.0.2.10", "192.0.2.1", tag),
        "IPv4 from an address of its prefix" => Ping4(Guest, "198.51.100.77", "192.0.2.1", tag),
        "IPv4 from a foreign address" => Ping4(Guest, "192.0.2.11", "192.0.2.1", tag),
        "IPv4 with a foreign source MAC" => Ping4(Other, "192.0.2.10", "192.0.2.1", tag),
        "DHCP DISCOVER from 0.0.0.0" => Udp4(Guest, "0.0.0.0", "255.255.255.255", 68, 67, tag),
        "other UDP from 0.0.0.0" => Udp4(Guest, "0.0.0.0", "255.255.255.255", 5000, 67, tag),
        "a DHCP server's OFFER (from port 67)" => Udp4(Guest, "192.0.2.10", "255.255.255.255", 67, 68, tag),
        "UDP to a client's port 68" => Udp4(Guest, "192.0.2.10", "255.255.255.255", 4000, 68, tag),
        "ARP request from its own address" => Arp(Guest, Guest, "192.0.2.10", "192.0.2.1", tag),
        "ARP probe from 0.0.0.0" => Arp(Guest, Guest, "0.0.0.0", "192.0.2.10", tag),
        "ARP for another's address (spoofed sender IP)" => Arp(Guest, Guest, "192.0.2.1", "192.0.2.1", tag, operation: 2),
        "ARP with a foreign sender MAC" => Arp(Guest, Other, "192.0.2.10", "192.0.2.1", tag),
        "IPv6 from its EUI-64 link-local address" => Udp6(Guest, LinkLocal, "ff02::1", 4000, 4000, tag),
        "IPv6 from its own address" => Udp6(Guest, "2001:db8:1::10", "2001:db8:1::1", 4000, 4000, tag),
        "IPv6 from an address of its prefix (SLAAC)" => Udp6(Guest, "2001:db8:2::5054:ff:fe00:100", "2001:db8:2::1", 4000, 4000, tag),
        "IPv6 from a foreign address" => Udp6(Guest, "2001:db8:1::11", "2001:db8:1::1", 4000, 4000, tag),
        "a router advertisement" => Icmp6(Guest, LinkLocal, "ff02::1", 134, new byte[12], tag),
        "a redirect" => Icmp6(Guest, LinkLocal, "fe80::1", 137, new byte[36], tag),
        "a DHCPv6 server's ADVERTISE (from port 547)" => Udp6(Guest, LinkLocal, "fe80::1", 547, 546, tag),
        "UDP to a DHCPv6 client's port 546" => Udp6(Guest, LinkLocal, "fe80::1", 4000, 546, tag),
        "DHCPv6 SOLICIT from its link-local address" => Udp6(Guest, LinkLocal, "ff02::1:2", 546, 547, tag),
        "a neighbour solicitation for DAD from ::" => NeighbourSolicitation(Guest, "::", "2001:db8:1::10", tag),
        "a router solicitation from ::" => Icmp6(Guest, "::", "ff02::2", 133, new byte[4], tag),
        "an MLD report from :: behind a hop-by-hop header" => Icmp6(Guest, "::", "ff02::16", 143, new byte[4], tag, hopByHop: true),
        "other ICMPv6 from ::" => Icmp6(Guest, "::", "ff02::1", 128, new byte[4], tag),
        "a neighbour advertisement for its own address" => NeighbourAdvertisement(Guest, "2001:db8:1::10", "2001:db8:1::10", tag),
        "a neighbour advertisement for another's address" => NeighbourAdvertisement(Guest, "2001:db8:1::10", "2001:db8:1::1", tag),
        "QEMU's announce (a broadcast RARP reverse request for its MAC)" => Rarp(Guest, Guest, tag),
        "a RARP announce of another's MAC" => Rarp(Guest, Other, tag),
        "a RARP reply" => Rarp(Guest, Guest, tag, operation: 4),
        "a VLAN-tagged frame" => Tagged(Guest, 7, 0x0800, Ping4(Guest, "192.0.2.10", "192.0.2.1", tag)[14..]),
        "an unknown ethertype" => Ethernet(Guest, 0x88b5, tag),
        _ => throw new ArgumentException(what),
    };

    public void Dispose()
    {
        _lan?.Dispose();
        _guest?.Dispose();
        _host.Dispose();
    }
}
