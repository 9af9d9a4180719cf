using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

public sealed class CreateMacvtapsTests : NetnsTest
{
    private const uint Group = 4242;

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(500)]
    public void Creates_every_macvtap_as_requested_as_ip_sees_it(int count)
    {
        MacvtapRequest[] requests = Requests(count, Lower, Group);

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps(requests);

        Assert.Equal(count, outcomes.Count);
        Dictionary<string, IpLink> seen = Ns.Links().ToDictionary(link => link.Name);
        for (int i = 0; i < count; i++)
        {
            Assert.Null(outcomes[i].Error);
            Link created = Assert.NotNull(outcomes[i].Created);
            AssertCreatedAsRequested(requests[i], created);
            AssertIpSees(requests[i], created, seen[requests[i].Name], LowerName);
        }
        Assert.Equal(count, seen.Values.Count(link => link.Kind == "macvtap"));
    }

    [Fact]
    public void Creates_all_five_modes_in_one_call()
    {
        int passthruLower = Ns.AddVeth("lower1", "peer1");
        MacvtapRequest[] requests =
        [
            .. Requests(4, Lower, Group),   // bridge, vepa, private, source share lower0
            new MacvtapRequest("mvtpt", passthruLower, Mac(100), MacvtapMode.Passthru, Group, "shim:passthru"),
        ];

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps(requests);

        Assert.Equal(
            [MacvtapMode.Bridge, MacvtapMode.Vepa, MacvtapMode.Private, MacvtapMode.Source, MacvtapMode.Passthru],
            outcomes.Select(outcome => Assert.NotNull(outcome.Created).Mode!.Value));
        Dictionary<string, IpLink> seen = Ns.Links().ToDictionary(link => link.Name);
        for (int i = 0; i < 4; i++) AssertIpSees(requests[i], outcomes[i].Created!.Value, seen[requests[i].Name], LowerName);
        Assert.Equal("passthru", seen["mvtpt"].Mode);
        Assert.Equal("lower1", seen["mvtpt"].Lower);
        Assert.Equal("shim:passthru", seen["mvtpt"].Alias);
    }

    [Fact]
    public void Passthru_takes_the_lower_devices_mac_not_the_requested_one()
    {
        string lowerMac = Ns.Link(LowerName).Address;
        var request = new MacvtapRequest("mvtpt", Lower, Mac(7), MacvtapMode.Passthru, Group, "shim:passthru");

        Link created = Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Created);

        Assert.Equal(lowerMac, created.Mac.ToString());
        Assert.Equal(lowerMac, Ns.Link("mvtpt").Address);
        Assert.Equal(Group, created.Group);
        Assert.Equal("shim:passthru", Ns.Link("mvtpt").Alias);
    }

    [Fact]
    public void An_empty_alias_leaves_the_link_without_one()
    {
        var request = new MacvtapRequest("mvt0", Lower, Mac(1), MacvtapMode.Bridge, Group, "");

        Link created = Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Created);

        Assert.Null(created.Alias);
        Assert.Null(Ns.Link("mvt0").Alias);
    }

    [Fact]
    public void An_empty_call_creates_nothing() =>
        Assert.Empty(Table.CreateMacvtaps([]));

    [Fact]
    public void Invalid_names_and_aliases_are_refused_before_anything_is_created()
    {
        MacvtapRequest good = Requests(1, Lower, Group)[0];

        Assert.Throws<ArgumentException>(() => Table.CreateMacvtaps([good, good with { Name = "sixteen-bytes-xx" }]));
        Assert.Throws<ArgumentException>(() => Table.CreateMacvtaps([good, good with { Name = "a/b" }]));
        Assert.Throws<ArgumentException>(() => Table.CreateMacvtaps([good, good with { Alias = new string('x', 256) }]));

        Assert.DoesNotContain(Ns.Links(), link => link.Kind == "macvtap");
    }

    private void AssertCreatedAsRequested(MacvtapRequest request, Link created)
    {
        Assert.Equal(request.Name, created.Name);
        Assert.Equal("macvtap", created.Kind);
        Assert.Equal(Lower, created.LowerIndex);
        Assert.Equal(request.Mac, created.Mac);
        Assert.Equal(request.Mode, created.Mode);
        Assert.Equal(request.Group, created.Group);
        Assert.Equal(request.Alias, created.Alias);
        Assert.True(created.IsUp);
        Assert.True(created.AllMulticast);
        Assert.Equal(1500u, created.Mtu);
    }

    internal static void AssertIpSees(MacvtapRequest request, Link created, IpLink ip, string lowerName)
    {
        Assert.Equal(created.Index, ip.Index);
        Assert.Equal(request.Name, ip.Name);
        Assert.Equal("macvtap", ip.Kind);
        Assert.Equal(lowerName, ip.Lower);
        Assert.Equal(request.Mac.ToString(), ip.Address);
        Assert.Equal(request.Mode.Name(), ip.Mode);
        Assert.Equal(request.Group, ip.GroupNumber);
        Assert.Equal(request.Alias, ip.Alias);
        Assert.True(ip.IsUp, $"{ip.Name} is not up");
        Assert.Equal(request.AllMulticast, ip.AllMulticast);
        Assert.Equal("none", ip.AddressGenerationMode);
    }
}
