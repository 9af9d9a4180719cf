using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>
/// Release finds the domain's links by name, never by listing the host's, and deletes one by ifindex or several as the
/// domain's netdev group: whatever sits in that group or on those names without both of the domain's marks stays.
/// </summary>
public class ReleaseOwnershipTests
{
    private static readonly Guid Web = TestDomains.Uuid(1);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AStrangerInTheDomainsGroupStays(int nics)
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(1, nics, firstName: 0));
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        LinkMarker marker = LinkMarker.For(h.Settings);
        Macvtap(h, "strange0", marker.Group(Web), "an administrator's link", "52:54:00:ee:00:01");

        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);

        Assert.Equal(["strange0", "uplink0", "uplink0p"], OtherThanLo(h));
        IpLink stranger = h.Ns.Link("strange0");
        Assert.Equal((marker.Group(Web), "an administrator's link"), (stranger.GroupNumber, stranger.Alias));
        Assert.Empty(h.ReadState()!.Records);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void LinksWithForgedMarksOnTheDomainsNamesStay(int nics)
    {
        using var h = HookHarness.Create();
        var mine = TestDomains.Nics(1, nics, firstName: 0);
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, mine)).ExitCode);
        var elsewhere = new LinkMarker("another-host");
        LinkMarker marker = LinkMarker.For(h.Settings);
        Macvtap(h, "mvtap10", elsewhere.Group(Web), elsewhere.Alias(Web), "52:54:00:ee:00:01");   // the domain's, of another instance
        Macvtap(h, "mvtap11", 0x8000_0001, marker.Alias(Web), "52:54:00:ee:00:02");                 // this instance's alias, another group
        Macvtap(h, "mvtap12", marker.Group(Web), elsewhere.Alias(Web), "52:54:00:ee:00:03");        // this instance's group, another alias
        var declared = mine.Concat([new TestNic("52:54:00:ee:00:01", "mvtap10"), new("52:54:00:ee:00:02", "mvtap11"),
            new("52:54:00:ee:00:03", "mvtap12")]);

        Assert.Equal(0, h.Run("web", "release", "end", TestDomains.Owned("web", Web, declared)).ExitCode);

        Assert.Equal(["mvtap10", "mvtap11", "mvtap12", "uplink0", "uplink0p"], OtherThanLo(h));
        Assert.Equal(elsewhere.Alias(Web), h.Ns.Link("mvtap10").Alias);
    }

    [Fact]
    public void AStrangerOnARecordedNameStaysAndTheDomainsOtherLinksGo()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(1, 3, firstName: 0));
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        h.Ns.Ip("link", "del", "mvtap1");
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap1", "address", "52:54:00:ee:ee:ee", "type", "macvtap");

        HookResult release = h.Run("web", "release", "end", xml);

        Assert.Equal(0, release.ExitCode);
        Assert.Equal(["mvtap1", "uplink0", "uplink0p"], OtherThanLo(h));
        Assert.Equal(("52:54:00:ee:ee:ee", null), (h.Ns.Link("mvtap1").Address, h.Ns.Link("mvtap1").Alias));
    }

    [Fact]
    public void AReleaseWithoutTheDomainsXmlFindsItsLinksByTheirRecords()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(1, 4, firstName: 2));
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        Macvtap(h, "strange0", LinkMarker.For(h.Settings).Group(Web), "an administrator's link", "52:54:00:ee:00:01");

        Assert.Equal(0, h.Run("web", "release", "end", "not xml").ExitCode);

        Assert.Equal(["strange0", "uplink0", "uplink0p"], OtherThanLo(h));
        Assert.Empty(h.ReadState()!.Records);
    }

    private static void Macvtap(HookHarness h, string name, uint group, string alias, string mac)
    {
        Assert.True(MacAddress.TryParse(mac, out MacAddress address));
        using LinkTable table = h.Ns.OpenLinkTable();
        var request = new MacvtapRequest(name, h.Ns.Link("uplink0").Index, address, MacvtapMode.Bridge, group, alias);
        Assert.Null(table.CreateMacvtaps([request])[0].Error);
    }

    private static string[] OtherThanLo(HookHarness h) => [.. h.Ns.Links().Where(l => l.Name != "lo").Select(l => l.Name).Order()];
}
