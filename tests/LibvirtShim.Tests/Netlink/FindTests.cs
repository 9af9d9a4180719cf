using LibvirtShim.Netlink;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

public sealed class FindTests : NetnsTest
{
    [Fact]
    public void Finds_existing_names_and_null_for_missing_ones()
    {
        Link created = Table.CreateMacvtaps(Requests(1, Lower, 4242))[0].Created!.Value;
        int peer = Ns.Link(PeerName).Index;

        IReadOnlyList<Link?> found = Table.Find([LowerName, "nope", "mvt0", PeerName, "lo"]);

        Assert.Equal(5, found.Count);
        Assert.Equal((Lower, LowerName, "veth", peer),
            (found[0]!.Value.Index, found[0]!.Value.Name, found[0]!.Value.Kind, found[0]!.Value.LowerIndex));
        Assert.Null(found[1]);
        Assert.Equal(created, found[2]);
        Assert.Equal((peer, Lower), (found[3]!.Value.Index, found[3]!.Value.LowerIndex));
        Assert.Equal(("lo", (string?)null, 0), (found[4]!.Value.Name, found[4]!.Value.Kind, found[4]!.Value.LowerIndex));
    }

    [Fact]
    public void An_alternative_name_finds_the_link_under_its_primary_name()
    {
        Ns.Ip("link", "property", "add", "dev", PeerName, "altname", "peeralt");

        Link found = Assert.NotNull(Assert.Single(Table.Find(["peeralt"])));

        Assert.Equal(PeerName, found.Name);
    }

    [Fact]
    public void Finding_nothing_asks_nothing() => Assert.Empty(Table.Find([]));

    [Fact]
    public void Invalid_names_are_refused() =>
        Assert.Throws<ArgumentException>(() => Table.Find(["ok", "bad name"]));
}
