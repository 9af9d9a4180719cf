using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>prepare and release through the real hook logic against the real kernel, each test in its own namespace.</summary>
public class PrepareReleaseTests
{
    private static readonly Guid Web = TestDomains.Uuid(1);

    [Fact]
    public void PrepareCreatesEachLinkAsDeclaredAndReleaseDeletesThem()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        TestNic[] nics =
        [
            new("52:54:00:aa:00:01", "mvtap1", "uplink0", "bridge"),
            new("52:54:00:aa:00:02", "mvtap2", "uplink1", "vepa"),
            new("52:54:00:aa:00:03", "mvtap3", "uplink1", "private"),
            new("52:54:00:aa:00:04", "mvtap4", "uplink0", "source", LinkAttributes: "macaddrs='52:54:00:bb:00:01'"),
        ];
        string xml = TestDomains.Owned("web", Web, nics);

        HookResult prepare = h.Run("web", "prepare", "begin", xml);

        Assert.Equal(0, prepare.ExitCode);
        Assert.Equal("", prepare.Stderr);
        foreach (TestNic nic in nics)
        {
            IpLink link = h.Ns.Link(nic.Name);
            Assert.Equal(("macvtap", nic.Mac, nic.Source, nic.Mode, true), (link.Kind, link.Address, link.Lower, link.Mode, link.IsUp));
            Assert.Equal(LinkMarker.For(h.Settings).Alias(Web), link.Alias);
            Assert.Equal(LinkMarker.For(h.Settings).Group(Web), link.GroupNumber);
        }
        NameState state = h.ReadState()!;
        Assert.Equal(nics.Select(n => n.Name), state.OfDomain(Web).Where(r => r.Holding == Holding.Created).Select(r => r.Name).Order());

        HookResult release = h.Run("web", "release", "end", xml);

        Assert.Equal(0, release.ExitCode);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Equal(0, h.ReadState()!.Count);
    }

    [Fact]
    public void ReleaseTwiceAndReleaseWithoutPrepareAreFine()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(1, 3, firstName: 0));
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    [Fact]
    public void ANameHeldByAnotherDomainFailsThePrepareAndTouchesNothing()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, TestDomains.Nics(1, 2, firstName: 0))).ExitCode);
        var db = TestDomains.Owned("db", TestDomains.Uuid(2), TestDomains.Nics(2, 3, firstName: 1));
        var linksBefore = h.Ns.Links();

        HookResult result = h.Run("db", "prepare", "begin", db);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"libvirt-shim: domain 'db': NIC {TestDomains.Mac(2, 0)} (mvtap1): name is held by domain 'web'\n", result.Stderr);
        Assert.Equal(linksBefore, h.Ns.Links());
        Assert.Empty(h.ReadState()!.OfDomain(TestDomains.Uuid(2)));
    }

    [Fact]
    public void ALinkSomeoneElseMadeOnAManagedNameIsReportedAndLeftAlone()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap5", "address", "52:54:00:ee:ee:ee", "type", "macvtap");
        string xml = TestDomains.Owned("web", Web, [new("52:54:00:aa:00:01", "mvtap4"), new("52:54:00:aa:00:02", "mvtap5")]);

        HookResult prepare = h.Run("web", "prepare", "begin", xml);
        HookResult release = h.Run("web", "release", "end", xml);

        Assert.Equal(1, prepare.ExitCode);
        Assert.Contains("NIC 52:54:00:aa:00:02 (mvtap5): name is held by a link libvirt-shim did not create", prepare.Stderr);
        Assert.Equal(0, release.ExitCode);
        IpLink stranger = h.Ns.Link("mvtap5");
        Assert.Equal(("52:54:00:ee:ee:ee", null, 0u), (stranger.Address, stranger.Alias, stranger.GroupNumber));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == "mvtap4");
    }

    [Fact]
    public void AFailureHalfwayRollsBackWhatTheCallCreated()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, [new("52:54:00:aa:00:09", "mvtap9")])).ExitCode);
        // db's third NIC has web's MAC on the same lower device: the kernel refuses to bring it up (EADDRINUSE).
        TestNic[] db = [new("52:54:00:bb:00:01", "mvtap10"), new("52:54:00:bb:00:02", "mvtap11"), new("52:54:00:aa:00:09", "mvtap12")];

        HookResult result = h.Run("db", "prepare", "begin", TestDomains.Owned("db", TestDomains.Uuid(2), db));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("libvirt-shim: domain 'db': NIC 52:54:00:aa:00:09 (mvtap12): cannot create macvtap on uplink0:", result.Stderr);
        Assert.Equal(["mvtap9"], h.Ns.Links().Where(l => l.Kind == "macvtap").Select(l => l.Name));
        Assert.Empty(h.ReadState()!.OfDomain(TestDomains.Uuid(2)));
        Assert.Equal(0, h.Run("db", "release", "end", TestDomains.Owned("db", TestDomains.Uuid(2), db)).ExitCode);
        Assert.Equal("mvtap9", Assert.Single(h.ReadState()!.Records).Name);
    }

    [Theory]
    [InlineData("uplink9", "lower device uplink9 does not exist on this host")]
    [InlineData("eth0", "lower device 'eth0' is not in AllowedLowerDevices (uplink0)")]
    public void AMissingOrDisallowedLowerDeviceFailsBeforeAnythingIsCreated(string source, string expected)
    {
        using var h = HookHarness.Create();
        h.Settings.AllowedLowerDevices = ["uplink0", "uplink9"];
        if (source == "eth0") h.Settings.AllowedLowerDevices = ["uplink0"];
        string xml = TestDomains.Owned("web", Web, [new("52:54:00:aa:00:01", "mvtap1"), new("52:54:00:aa:00:02", "mvtap2", source)]);

        HookResult result = h.Run("web", "prepare", "begin", xml);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    [Theory]
    [InlineData("eth0")]
    [InlineData("lo")]
    [InlineData("uplink0")]
    [InlineData("mvtap01")]
    [InlineData("mvtap8192")]
    [InlineData("other7")]
    public void NamesOutsideThePrefixAreRefused(string name)
    {
        using var h = HookHarness.Create();
        HookResult result = h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, [new("52:54:00:aa:00:01", name)]));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"({name}): target dev is not a libvirt-shim name (mvtapN with N below 8192)", result.Stderr);
        Assert.Equal(2, h.Ns.Links().Count(l => l.Name.StartsWith("uplink0", StringComparison.Ordinal)));
        Assert.True(h.Ns.Link("uplink0").IsUp);
    }

    [Fact]
    public void ReleaseNeverDeletesWhatItDidNotCreateWhateverTheXmlSays()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, [new("52:54:00:aa:00:01", "mvtap1")])).ExitCode);
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap2", "type", "macvtap");
        var hostile = TestDomains.Owned("evil", TestDomains.Uuid(6), [new("52:54:00:aa:00:01", "mvtap1"), new("52:54:00:ee:00:02", "mvtap2")],
            extraDevices: "<interface type='direct'><mac address='52:54:00:ee:00:03'/><source dev='uplink0'/><target dev='uplink0'/></interface>");

        Assert.Equal(0, h.Run("evil", "release", "end", hostile).ExitCode);

        Assert.Equal(["mvtap1", "mvtap2", "uplink0", "uplink0p"], h.Ns.Links().Where(l => l.Name != "lo").Select(l => l.Name).Order());
    }

    [Fact]
    public void OperationsWithNothingToDoTouchNoState()
    {
        using var h = HookHarness.Create();
        string plain = "<domain><name>plain</name><uuid>00000000-0000-4000-8000-0000000000aa</uuid><devices/></domain>";
        foreach (string op in new[] { "prepare", "start", "started", "stopped", "reconnect", "attach", "frobnicate" })
            Assert.Equal(0, h.Run("plain", op, "begin", plain).ExitCode);
        Assert.False(Directory.Exists(h.Settings.StateDir));
    }
}
