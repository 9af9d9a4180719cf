using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

/// <summary>What a created macvtap carries besides its identity: no host address, IFF_ALLMULTI as asked, the MTU asked for.</summary>
public sealed class LinkSettingsTests : NetnsTest
{
    private const uint Group = 4242;

    [Fact]
    public void Created_links_are_up_with_no_address_and_ipv6_address_generation_off()
    {
        MacvtapRequest[] requests = Requests(8, Lower, Group);

        Assert.All(Table.CreateMacvtaps(requests), outcome => Assert.NotNull(outcome.Created));

        foreach (MacvtapRequest request in requests)
        {
            IpLink link = Ns.Link(request.Name);
            Assert.True(link.IsUp);
            Assert.Equal("none", link.AddressGenerationMode);
            Assert.Empty(Ns.Addresses(request.Name));
        }
    }

    [Fact]
    public void Allmulticast_is_on_unless_the_request_turns_it_off()
    {
        MacvtapRequest quiet = Requests(1, Lower, Group)[0] with { AllMulticast = false };

        Link created = Assert.NotNull(Assert.Single(Table.CreateMacvtaps([quiet])).Created);

        Assert.False(created.AllMulticast);
        Assert.False(Ns.Link(quiet.Name).AllMulticast);

        MacvtapRequest listening = Requests(2, Lower, Group)[1];
        Assert.True(Assert.NotNull(Assert.Single(Table.CreateMacvtaps([listening])).Created).AllMulticast);
        Assert.True(Ns.Link(listening.Name).AllMulticast);
    }

    [Fact]
    public void The_mtu_asked_for_is_set_at_creation_and_the_lower_devices_applies_otherwise()
    {
        Ns.Ip("link", "set", LowerName, "mtu", "9000");
        MacvtapRequest[] requests = Requests(2, Lower, Group);
        requests[0] = requests[0] with { Mtu = 4000 };

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps(requests);

        Assert.Equal(4000u, Assert.NotNull(outcomes[0].Created).Mtu);
        Assert.Equal(4000, Ns.Link(requests[0].Name).Mtu);
        Assert.Equal(9000, Ns.Link(requests[1].Name).Mtu);
    }

    [Fact]
    public void An_mtu_above_the_lower_devices_is_refused_with_EINVAL_and_leaves_no_link()
    {
        MacvtapRequest request = Requests(1, Lower, Group)[0] with { Mtu = 9000 };

        NetlinkError error = Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Error);

        Assert.Equal(Errno.EINVAL, error.Errno);
        Assert.DoesNotContain(Ns.Links(), link => link.Name == request.Name);
    }

    [Fact]
    public void A_link_below_the_ipv6_minimum_mtu_has_no_ipv6_to_turn_off_and_is_settled_all_the_same()
    {
        // Below 1280 bytes the kernel gives a link no IPv6 at all, and refuses IFLA_AF_SPEC{AF_INET6} with EAFNOSUPPORT.
        MacvtapRequest request = Requests(1, Lower, Group)[0] with { Mtu = 1200 };

        Link created = Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Created);

        IpLink link = Ns.Link(request.Name);
        Assert.True(link.IsUp);
        Assert.Equal(request.Alias, link.Alias);
        Assert.Equal(1200, link.Mtu);
        Assert.Null(link.AddressGenerationMode);
        Assert.Empty(Ns.Addresses(request.Name));
        Assert.Equal(request.Alias, created.Alias);
    }
}

/// <summary>The RTM_GETADDR dump status and doctor use to find links that hold a host address.</summary>
public sealed class AddressDumpTests : NetnsTest
{
    [Fact]
    public void Lists_every_ipv4_and_ipv6_address_with_its_link_as_ip_does()
    {
        Ns.Ip("addr", "add", "192.0.2.1/24", "dev", LowerName);
        Ns.Ip("addr", "add", "2001:db8::1/64", "dev", LowerName, "nodad");
        Ns.Ip("addr", "add", "198.51.100.7/32", "peer", "198.51.100.8", "dev", PeerName);   // point-to-point: IFA_LOCAL is ours

        IReadOnlyList<HostAddress> addresses = Table.Addresses();

        string[] onLower = addresses.Where(a => a.LinkIndex == Lower).Select(a => a.ToString()).ToArray();
        Assert.Contains("192.0.2.1/24", onLower);
        Assert.Contains("2001:db8::1/64", onLower);
        Assert.Contains(onLower, a => a.StartsWith("fe80::", StringComparison.Ordinal));   // the veth's own link-local address
        Assert.Contains(addresses, a => a.LinkIndex == Ns.Link(PeerName).Index && a.ToString() == "198.51.100.7/32");
        Assert.Equal(Ns.Addresses(LowerName).Count + Ns.Addresses(PeerName).Count + Ns.Addresses("lo").Count, addresses.Count);
    }
}

/// <summary>
/// The proof that the hook's links never speak: every frame of the namespace is watched across a real <c>prepare</c>,
/// beside a control macvtap made the way a hand-written hook makes one (created, then set up), which does speak.
/// </summary>
public sealed class SilentPrepareTests
{
    private static readonly MacAddress Control = new(0x02_cc_00_00_00_01);

    [Fact]
    public void A_prepared_link_sends_no_frame_with_the_guests_mac()
    {
        using HookHarness harness = HookHarness.Create();
        using FrameWatch frames = FrameWatch.Open(harness.Ns);
        List<TestNic> nics = TestDomains.Nics(domain: 1, count: 2, firstName: 0);
        MacAddress[] guest = nics.Select(n => MacAddress.TryParse(n.Mac, out MacAddress mac) ? mac : throw new FormatException(n.Mac)).ToArray();

        HookResult prepare = harness.Run("quiet", "prepare", "begin", TestDomains.Owned("quiet", TestDomains.Uuid(1), nics));
        Assert.Equal(0, prepare.ExitCode);
        harness.Ns.Ip("link", "add", "link", "uplink0", "name", "control", "address", Control.ToString(), "type", "macvtap", "mode", "bridge");
        harness.Ns.Ip("link", "set", "control", "up");

        // The control link, up after the guest's, sends MLD reports, DAD and a router solicitation within about 2 s.
        bool controlSpoke = frames.WaitUntil(f => f.From(Control) >= 3 || guest.Any(mac => f.From(mac) > 0), TimeSpan.FromSeconds(15));

        Assert.All(guest, mac => Assert.True(frames.From(mac) == 0, $"frames with the guest's MAC {mac} left the host: {frames.Summary()}"));
        Assert.True(controlSpoke, $"the control link sent fewer than 3 frames in 15 s, so the watch proves nothing: {frames.Summary()}");
        Assert.All(nics, nic => Assert.Equal("none", harness.Ns.Link(nic.Name).AddressGenerationMode));
    }
}
