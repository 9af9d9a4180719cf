using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

public sealed class CreateMacvtapsErrorTests : NetnsTest
{
    private const uint Group = 4242;
    private const int MissingIndex = 99999;

    /// <summary>Someone else's macvtap, made with ip: name "taken", group 77, its own MAC and alias.</summary>
    private IpLink AddForeignMacvtap()
    {
        Ns.Ip("link", "add", "link", LowerName, "name", "taken", "address", "02:aa:00:00:00:01", "group", "77", "type", "macvtap", "mode", "vepa");
        Ns.Ip("link", "set", "taken", "alias", "someone else's");
        return Ns.Link("taken");
    }

    [Fact]
    public void A_taken_name_fails_with_EEXIST_and_the_existing_link_keeps_alias_group_and_mac()
    {
        IpLink before = AddForeignMacvtap();
        var request = new MacvtapRequest("taken", Lower, Mac(1), MacvtapMode.Bridge, Group, "shim:ours");

        LinkOutcome outcome = Assert.Single(Table.CreateMacvtaps([request]));

        Assert.Null(outcome.Created);
        NetlinkError error = Assert.NotNull(outcome.Error);
        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Contains("File exists (EEXIST, errno 17", error.Describe());
        Assert.Equal(before, Ns.Link("taken"));
        Assert.Equal("someone else's", before.Alias);
    }

    [Fact]
    public void A_missing_lower_device_fails_with_ENODEV()
    {
        var request = new MacvtapRequest("mvt0", MissingIndex, Mac(1), MacvtapMode.Bridge, Group, "shim:ours");

        LinkOutcome outcome = Assert.Single(Table.CreateMacvtaps([request]));

        Assert.Equal(Errno.ENODEV, Assert.NotNull(outcome.Error).Errno);
        Assert.DoesNotContain(Ns.Links(), link => link.Name == "mvt0");
    }

    [Fact]
    public void A_mac_in_use_on_the_same_lower_fails_with_EADDRINUSE_when_brought_up_and_stays_down_for_the_caller_to_delete()
    {
        // The kernel checks the MAC when the link goes up: links are created down, so the settling round meets it.
        MacvtapRequest first = Requests(1, Lower, Group)[0];
        MacvtapRequest second = first with { Name = "mvtdup" };

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps([first, second]);

        Assert.NotNull(outcomes[0].Created);
        NetlinkError error = Assert.NotNull(outcomes[1].Error);
        Assert.Equal(Errno.EADDRINUSE, error.Errno);
        Assert.Contains("the alias was not set or it was not brought up; the link was left in place", error.Describe());
        IpLink left = Ns.Link("mvtdup");
        Assert.False(left.IsUp);
        Assert.Equal(Group, left.GroupNumber);
        Assert.Empty(Ns.Addresses("mvtdup"));
    }

    [Fact]
    public void A_multicast_mac_fails_with_EADDRNOTAVAIL()
    {
        var request = new MacvtapRequest("mvt0", Lower, new MacAddress(0x01_00_5e_00_00_01), MacvtapMode.Bridge, Group, "a");

        Assert.Equal(Errno.EADDRNOTAVAIL, Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Error).Errno);
    }

    [Fact]
    public void Passthru_must_be_alone_on_its_lower_device_EINVAL()
    {
        var passthru = new MacvtapRequest("mvtpt", Lower, Mac(1), MacvtapMode.Passthru, Group, "a");
        MacvtapRequest secondPassthru = passthru with { Name = "mvtpt2", Mac = Mac(2) };
        MacvtapRequest bridgeBeside = passthru with { Name = "mvtbr", Mac = Mac(3), Mode = MacvtapMode.Bridge };

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps([passthru, secondPassthru, bridgeBeside]);

        Assert.NotNull(outcomes[0].Created);
        Assert.Equal(Errno.EINVAL, Assert.NotNull(outcomes[1].Error).Errno);
        Assert.Equal(Errno.EINVAL, Assert.NotNull(outcomes[2].Error).Errno);
    }

    [Fact]
    public void An_unknown_mode_fails_with_EINVAL()
    {
        var request = new MacvtapRequest("mvt0", Lower, Mac(1), (MacvtapMode)3, Group, "a");

        Assert.Equal(Errno.EINVAL, Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Error).Errno);
    }

    [Fact]
    public void A_mixed_batch_lines_results_up_with_requests()
    {
        IpLink foreign = AddForeignMacvtap();
        MacvtapRequest[] ok = Requests(3, Lower, Group);
        MacvtapRequest[] requests =
        [
            ok[0],
            ok[1] with { Name = "taken" },
            ok[1],
            ok[2] with { Name = "mvtnolower", LowerIndex = MissingIndex },
            ok[2],
            ok[0] with { Mac = Mac(50) },   // same name as request 0
        ];

        IReadOnlyList<LinkOutcome> outcomes = Table.CreateMacvtaps(requests);

        Errno?[] errnos = outcomes.Select(outcome => outcome.Error?.Errno).ToArray();
        Assert.Equal([null, Errno.EEXIST, null, Errno.ENODEV, null, Errno.EEXIST], errnos);
        Assert.All(outcomes, outcome => Assert.True(outcome.Created.HasValue != outcome.Error.HasValue));
        Assert.Equal(["mvt0", "mvt1", "mvt2"], outcomes.Where(o => o.Created.HasValue).Select(o => o.Created!.Value.Name));

        Dictionary<string, IpLink> seen = Ns.Links().ToDictionary(link => link.Name);
        foreach (int i in new[] { 0, 2, 4 })
            CreateMacvtapsTests.AssertIpSees(requests[i], outcomes[i].Created!.Value, seen[requests[i].Name], LowerName);
        Assert.Equal(foreign, seen["taken"]);
        Assert.False(seen.ContainsKey("mvtnolower"));
        Assert.Equal(4, seen.Values.Count(link => link.Kind == "macvtap"));
    }

    [Fact]
    public void Errors_describe_device_errno_name_and_number()
    {
        var request = new MacvtapRequest("mvt0", -5, Mac(1), MacvtapMode.Bridge, Group, "a");

        NetlinkError error = Assert.NotNull(Assert.Single(Table.CreateMacvtaps([request])).Error);

        Assert.Equal(Errno.ENODEV, error.Errno);
        Assert.StartsWith("No such device (ENODEV, errno 19", error.Describe());
    }
}
