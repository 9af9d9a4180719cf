using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>
/// mode='source': the link passes to the guest the frames of the source MACs macaddrs= lists, set in the request that
/// creates it; without a list the guest would receive nothing, so the domain is refused in one line.
/// </summary>
public class SourceModeTests
{
    private static readonly Guid Web = TestDomains.Uuid(74);
    private static readonly MacAddress Listed = Mac("52:54:00:cc:00:01"), Also = Mac("52:54:00:cc:00:02"), Other = Mac("52:54:00:cc:00:09");

    private static string Domain(string attributes) =>
        TestDomains.Owned("web", Web, [new("52:54:00:aa:74:01", "mvtap1", "uplink0", "source", LinkAttributes: attributes)]);

    [Theory]
    [InlineData("", "NIC 52:54:00:aa:74:01 (mvtap1): mode='source' needs macaddrs='MAC,...', the source MACs whose frames the link passes")]
    [InlineData("macaddrs=' '", "NIC 52:54:00:aa:74:01 (mvtap1): mode='source' needs macaddrs='MAC,...'")]
    [InlineData("macaddrs='52:54:00:cc:00:01,nope'", "NIC 52:54:00:aa:74:01 (mvtap1): macaddrs='52:54:00:cc:00:01,nope' is not a list of MAC")]
    [InlineData("macaddrs='01:00:5e:00:00:01'", "NIC 52:54:00:aa:74:01 (mvtap1): macaddrs='01:00:5e:00:00:01' holds 01:00:5e:00:00:01, which is not")]
    public void ASourceModeLinkWithoutAUsableListIsRefused(string attributes, string message)
    {
        var e = Assert.Throws<ShimFailure>(() => DomainReader.Read(XDocument.Parse(Domain(attributes))));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void MacaddrsBelongsToSourceModeOnly()
    {
        string xml = TestDomains.Owned("web", Web,
            [new("52:54:00:aa:74:01", "mvtap1", "uplink0", "bridge", LinkAttributes: "macaddrs='52:54:00:cc:00:01'")]);
        var e = Assert.Throws<ShimFailure>(() => DomainReader.Read(XDocument.Parse(xml)));
        Assert.Equal("NIC 52:54:00:aa:74:01 (mvtap1): macaddrs='52:54:00:cc:00:01' is only for mode='source'", e.Message);
    }

    /// <summary>The list is the link's from its creation, and frames of the listed sources reach the guest's queue, others do not.</summary>
    [Fact]
    public void FramesOfTheListedSourcesReachTheGuestAndOthersDoNot()
    {
        using var h = HookHarness.Create();
        string xml = Domain($"macaddrs='{Listed}, {Also}'");

        HookResult prepare = h.Run("web", "prepare", "begin", xml);

        Assert.Equal((0, ""), (prepare.ExitCode, prepare.Stderr));
        using (LibvirtShim.Netlink.LinkTable table = h.Ns.OpenLinkTable())
            Assert.Equal(new MacAddressSet([Listed, Also]), table.Find(["mvtap1"])[0]!.Value.SourceMacs);
        using TapQueue queue = TapQueue.Open(h.Devices.Taps.NodeOf(h.Ns.Link("mvtap1").Index));
        TapQueue.Send(h.Ns, "uplink0p", Other, 5);
        TapQueue.Send(h.Ns, "uplink0p", Listed, 5);
        TapQueue.Send(h.Ns, "uplink0p", Also, 5);

        Assert.Equal(5, queue.From(Listed, TimeSpan.FromSeconds(2)));
        Assert.Equal(5, queue.From(Also, TimeSpan.Zero));
        Assert.Equal(0, queue.From(Other, TimeSpan.FromMilliseconds(200)));
    }

    /// <summary>A link of an earlier prepare is kept only with the same list; another list replaces it.</summary>
    [Fact]
    public void AnotherListReplacesTheLinkOfAnEarlierPrepare()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Domain($"macaddrs='{Listed}'")).ExitCode);
        int first = h.Ns.Link("mvtap1").Index;

        Assert.Equal(0, h.Run("web", "prepare", "begin", Domain($"macaddrs='{Listed}'")).ExitCode);
        Assert.Equal(first, h.Ns.Link("mvtap1").Index);
        Assert.Equal(0, h.Run("web", "prepare", "begin", Domain($"macaddrs='{Also}'")).ExitCode);

        Assert.NotEqual(first, h.Ns.Link("mvtap1").Index);
        using LibvirtShim.Netlink.LinkTable table = h.Ns.OpenLinkTable();
        Assert.Equal(new MacAddressSet([Also]), table.Find(["mvtap1"])[0]!.Value.SourceMacs);
    }

    /// <summary>A restore onto a host where the name is taken renames the NIC and keeps its list.</summary>
    [Fact]
    public void TheListMovesWithTheGuest()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap1", "type", "macvtap");
        string xml = Domain($"macaddrs='{Listed},{Also}'");

        HookResult restore = h.Run("web", "restore", "begin", xml);

        Assert.Equal(0, restore.ExitCode);
        OwnedNic nic = Assert.Single(DomainReader.Read(XDocument.Parse(restore.Stdout)).OwnedNics);
        Assert.NotEqual("mvtap1", nic.Name);
        Assert.Equal(new MacAddressSet([Listed, Also]), nic.SourceMacs);
    }

    private static MacAddress Mac(string text) => MacAddress.TryParse(text, out MacAddress mac) ? mac : throw new ArgumentException(text);
}
