using LibvirtShim.Net;
using LibvirtShim.Netlink;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

/// <summary>Round 2 of a create: is the link now under the requested name the one this call made?</summary>
public sealed class MacvtapVerificationTests
{
    private static readonly MacvtapRequest Request = new("mvt0", 3, new MacAddress(0x02_00_00_00_00_01), MacvtapMode.Bridge, 4242, "shim");
    private static readonly Link Ours = new(7, "mvt0", "macvtap", 3, Request.Mac, 4242, null, true, MacvtapMode.Bridge);

    [Fact]
    public void The_link_created_as_requested_is_ours() => Assert.Null(MacvtapCreation.Mismatch(Request, Ours));

    [Theory]
    [InlineData("name")]
    [InlineData("group")]
    [InlineData("mac")]
    [InlineData("lower")]
    [InlineData("kind")]
    [InlineData("mode")]
    public void A_link_that_differs_in_anything_requested_is_not_ours(string field)
    {
        Link other = field switch
        {
            "name" => Ours with { Name = "other" },   // found through an alternative name
            "group" => Ours with { Group = 0 },
            "mac" => Ours with { Mac = new MacAddress(0x02_00_00_00_00_02) },
            "lower" => Ours with { LowerIndex = 4 },
            "kind" => Ours with { Kind = "macvlan" },
            _ => Ours with { Mode = MacvtapMode.Vepa },
        };

        NetlinkError error = Assert.NotNull(MacvtapCreation.Mismatch(Request, other));

        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Contains("ifindex 7", error.Describe());
    }

    [Fact]
    public void Passthru_does_not_compare_the_mac_the_kernel_replaced()
    {
        MacvtapRequest passthru = Request with { Mode = MacvtapMode.Passthru };
        Link created = Ours with { Mode = MacvtapMode.Passthru, Mac = new MacAddress(0x52_54_00_12_34_56) };

        Assert.Null(MacvtapCreation.Mismatch(passthru, created));
        Assert.NotNull(MacvtapCreation.Mismatch(passthru, created with { Group = 1 }));
    }
}
