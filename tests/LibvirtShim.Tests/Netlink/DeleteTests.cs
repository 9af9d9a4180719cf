using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

public sealed class DeleteTests : NetnsTest
{
    [Fact]
    public void Delete_by_index_removes_exactly_those_links_and_reports_each()
    {
        Link[] created = Table.CreateMacvtaps(Requests(6, Lower, 4242)).Select(o => o.Created!.Value).ToArray();
        int[] doomed = [created[0].Index, created[2].Index, 99999, created[4].Index];

        IReadOnlyList<NetlinkError?> errors = Table.Delete(doomed);

        Assert.Equal([null, null, Errno.ENODEV, null], errors.Select(e => e?.Errno));
        Assert.Equal(["lo", LowerName, "mvt1", "mvt3", "mvt5", PeerName], Ns.Links().Select(l => l.Name).Order());
    }

    [Fact]
    public void Delete_group_removes_exactly_the_groups_links()
    {
        Table.CreateMacvtaps(Requests(6, Lower, group: 4242, prefix: "a"));
        Table.CreateMacvtaps(Requests(3, Lower, group: 5353, prefix: "b", firstMac: 100));
        Ns.Ip("link", "set", PeerName, "group", "5353");

        NetlinkError? error = Table.DeleteGroup(4242);

        Assert.Null(error);
        IReadOnlyList<IpLink> left = Ns.Links();
        Assert.Equal(["b0", "b1", "b2", "lo", LowerName, PeerName], left.Select(l => l.Name).Order());
        Assert.DoesNotContain(left, link => link.GroupNumber == 4242);
    }

    [Fact]
    public void Delete_group_of_an_empty_group_is_ENODEV()
    {
        Assert.Equal(Errno.ENODEV, Table.DeleteGroup(4242)?.Errno);
    }

    [Fact]
    public void Delete_group_deletes_nothing_when_a_member_cannot_be_deleted_EOPNOTSUPP()
    {
        // This namespace's own loopback has no rtnl_link_ops, so the kernel refuses the whole group.
        Table.CreateMacvtaps(Requests(2, Lower, group: 4242));
        Ns.Ip("link", "set", "lo", "group", "4242");

        Assert.Equal(Errno.EOPNOTSUPP, Table.DeleteGroup(4242)?.Errno);
        Assert.Equal(["lo", "mvt0", "mvt1"], Ns.Links().Where(l => l.GroupNumber == 4242).Select(l => l.Name).Order());
    }

    [Fact]
    public void Delete_group_zero_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Table.DeleteGroup(0));

    [Fact]
    public void Delete_refuses_indexes_that_are_not_links() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Table.Delete([3, 0]));
}
