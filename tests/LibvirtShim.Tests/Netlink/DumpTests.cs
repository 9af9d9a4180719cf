using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

public sealed class DumpTests : NetnsTest
{
    [Fact]
    public void Dump_returns_every_link_with_the_fields_ip_shows()
    {
        Ns.Ip("link", "set", PeerName, "group", "9", "alias", "the peer");
        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps(Requests(8, Lower, 4242));

        IReadOnlyList<Link> links = Table.Dump();

        IReadOnlyList<IpLink> seen = Ns.Links();
        Assert.Equal(seen.Select(link => link.Index).Order(), links.Select(link => link.Index).Order());
        foreach (IpLink ip in seen)
        {
            Link link = links.Single(l => l.Index == ip.Index);
            Assert.Equal(ip.Name, link.Name);
            Assert.Equal(ip.Kind, link.Kind);
            Assert.Equal(ip.Address, link.Mac.ToString());
            Assert.Equal(ip.GroupNumber, link.Group);
            Assert.Equal(ip.Alias, link.Alias);
            Assert.Equal(ip.IsUp, link.IsUp);
            Assert.Equal(ip.Mode, link.Mode?.Name());
        }
        Assert.Equal("the peer", links.Single(l => l.Name == PeerName).Alias);
        Assert.Equal(Lower, links.Single(l => l.Name == PeerName).LowerIndex);
        foreach (LinkOutcome outcome in outcomes)
            Assert.Contains(outcome.Created!.Value, links);   // the whole record: index, lower, MAC, mode, group, alias, up
    }

    [Fact]
    public void A_dump_longer_than_one_receive_call_returns_every_link_once()
    {
        // 600 macvtaps come in about 25 dump parts of 32 KiB: more than one receive call takes (16 datagrams).
        Table.CreateMacvtaps(Requests(600, Lower, 4242));

        IReadOnlyList<Link> links = Table.Dump();

        Assert.Equal(Ns.Links().Select(link => link.Index).Order(), links.Select(link => link.Index).Order());
    }

    [Fact]
    public void A_link_with_as_many_alternative_names_as_the_kernel_takes_is_dumped_and_found_whole()
    {
        // Each altname is an attribute of the link's message. The kernel takes 496 of 124 characters ("effective property
        // list too long" after that): a 66.6 KB message, sent as a dump part of its own and as the answer to a lookup.
        string path = Path.Combine(Path.GetTempPath(), $"altnames-{Guid.NewGuid():N}.batch");
        try
        {
            File.WriteAllLines(path, Enumerable.Range(0, 496).Select(i => $"link property add dev {PeerName} altname {new string('a', 120)}{i:D4}"));
            Ns.Ip("-batch", path);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Contains(PeerName, Table.Dump().Select(link => link.Name));
        Assert.Equal(PeerName, Table.Find([PeerName])[0]?.Name);
    }

    [Fact]
    public void Group_dump_returns_the_groups_links_of_every_kind_and_nothing_else()
    {
        Ns.Ip("link", "set", PeerName, "group", "4242", "alias", "the peer");
        IReadOnlyList<LinkOutcome> ours = Table.CreateMacvtaps(Requests(3, Lower, 4242));
        Table.CreateMacvtaps(Requests(2, Lower, 4243, prefix: "other", firstMac: 10));

        IReadOnlyList<Link> members = Table.DumpGroup(4242);

        Assert.Equal([.. ours.Select(o => o.Created!.Value), Table.Find([PeerName])[0]!.Value], members.OrderBy(l => l.Name == PeerName));
        Assert.Empty(Table.DumpGroup(4244));
    }
}
