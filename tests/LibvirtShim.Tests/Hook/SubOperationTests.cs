using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>
/// libvirt names a call by OP and SUBOP, and only the pairs it documents for an operation mean that moment: prepare begin,
/// start begin, started begin, reconnect begin, migrate begin, restore begin, release end. Any other pair (a future
/// libvirt's, a script's, a typo by hand) does nothing: it drains stdin and exits 0, touching no link, name or state.
/// </summary>
public class SubOperationTests
{
    private static readonly Guid Web = TestDomains.Uuid(71);

    [Theory]
    [InlineData("prepare", "end")]
    [InlineData("prepare", "-")]
    [InlineData("start", "end")]
    [InlineData("started", "end")]
    [InlineData("reconnect", "end")]
    [InlineData("migrate", "end")]
    [InlineData("restore", "end")]
    [InlineData("release", "begin")]
    [InlineData("release", "-")]
    public void AnUndocumentedSubOperationDoesNothing(string operation, string subOperation)
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(71, 2, firstName: 3),
            extraDevices: "<interface type='direct'><mac address='52:54:00:ee:00:03'/><source dev='gone0'/><target dev='macvtap9'/></interface>");

        HookResult result = h.Run("web", operation, subOperation, xml);

        Assert.Equal((0, "", ""), (result.ExitCode, result.Stdout, result.Stderr));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.False(Directory.Exists(h.Settings.StateDir));
    }

    [Fact]
    public void ReleaseBeginLeavesTheLinksOfARunningGuestAlone()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(71, 2, firstName: 3));
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);

        HookResult early = h.Run("web", "release", "begin", xml);

        Assert.Equal((0, ""), (early.ExitCode, early.Stderr));
        Assert.Equal(["mvtap3", "mvtap4"], h.Ns.Links().Where(l => l.Kind == "macvtap").Select(l => l.Name).Order());
        Assert.Equal(2, h.ReadState()!.OfDomain(Web).Count);
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    /// <summary>The real executable drains stdin for a pair it ignores, so libvirt never writes into a closed pipe.</summary>
    [Fact]
    public void TheExecutableDrainsStdinOfAnIgnoredPair()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(71, 250, firstName: 0));

        HookResult result = h.RunProcess("web", "prepare", "end", xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }
}
