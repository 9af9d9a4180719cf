using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

/// <summary>Links created down for a listener to bring up later, and the listener's request that changes IFF_UP and nothing else.</summary>
public sealed class LinkUpDownTests : NetnsTest
{
    private const uint Group = 4243;

    [Fact]
    public void A_request_for_a_link_left_down_settles_it_all_the_same_alias_and_no_address_generation()
    {
        MacvtapRequest[] requests = Requests(4, Lower, Group).Select(r => r with { Up = false }).ToArray();

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps(requests);

        foreach ((MacvtapRequest request, LinkOutcome outcome) in requests.Zip(outcomes))
        {
            Link created = Assert.NotNull(outcome.Created);
            Assert.False(created.IsUp);
            IpLink link = Ns.Link(request.Name);
            Assert.False(link.IsUp);
            Assert.Equal(request.Alias, link.Alias);
            Assert.Equal("none", link.AddressGenerationMode);
        }
    }

    [Fact]
    public void Up_and_down_by_ifindex_change_only_the_up_flag_and_a_link_brought_up_later_gets_no_address()
    {
        MacvtapRequest[] requests = Requests(3, Lower, Group).Select(r => r with { Up = false, Mtu = 1400, AllMulticast = false }).ToArray();
        int[] indexes = Table.CreateMacvtaps(requests).Select(o => Assert.NotNull(o.Created).Index).ToArray();
        IpLink before = Ns.Link(requests[0].Name);

        Assert.All(Table.SetUpDown(indexes.Select(i => new LinkUpDown(i, true)).ToList()), Assert.Null);

        IpLink up = Ns.Link(requests[0].Name);
        Assert.True(up.IsUp);
        Assert.Equal((before.Alias, before.Group, before.Mtu, before.Address, before.AllMulticast),
            (up.Alias, up.Group, up.Mtu, up.Address, up.AllMulticast));
        Assert.All(requests, r => Assert.Empty(Ns.Addresses(r.Name)));

        Assert.All(Table.SetUpDown([new LinkUpDown(indexes[1], false)]), Assert.Null);
        Assert.Equal([true, false, true], requests.Select(r => Ns.Link(r.Name).IsUp));
    }

    [Fact]
    public void A_link_deleted_meanwhile_is_ENODEV_for_its_request_and_the_others_are_done()
    {
        int[] indexes = Table.CreateMacvtaps(Requests(2, Lower, Group)).Select(o => Assert.NotNull(o.Created).Index).ToArray();
        Ns.Ip("link", "del", "mvt0");

        IReadOnlyList<NetlinkError?> errors = Table.SetUpDown([new LinkUpDown(indexes[0], false), new LinkUpDown(indexes[1], false)]);

        Assert.Equal(Errno.ENODEV, Assert.NotNull(errors[0]).Errno);
        Assert.Null(errors[1]);
        Assert.False(Ns.Link("mvt1").IsUp);
    }

    [Fact]
    public void An_ifindex_that_cannot_be_a_link_is_refused_before_anything_is_sent() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Table.SetUpDown([new LinkUpDown(0, true)]));
}
