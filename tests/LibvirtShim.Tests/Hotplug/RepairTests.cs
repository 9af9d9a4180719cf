using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hotplug;

/// <summary>
/// repair: the links of a running guest that went with their uplink are made again as a start makes them, and each such
/// NIC is unplugged and plugged in again through libvirt (the guest as libvirt would hold it: <see cref="FakeGuest"/>);
/// the links, the tap nodes and the state for real.
/// </summary>
public class RepairTests
{
    private static readonly Guid Web = TestDomains.Uuid(76);

    private static string Xml => TestDomains.Owned("web", Web,
    [
        new("52:54:00:aa:76:01", "mvtap1", "uplink0", LinkAttributes: "mtu='1400' allmulticast='off'"),
        new("52:54:00:aa:76:02", "mvtap2", "uplink1", "vepa"),
    ]);

    private static FakeGuest Running() => new("web", Xml, Xml) { LiveReadsToDetach = 2 };

    [Fact]
    public void LinksLostWithTheirUplinkAreMadeAgainAsAtStartAndTheirNicsPluggedInAgain()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        IpLink before = h.Ns.Link("mvtap1");
        int untouched = h.Ns.Link("mvtap2").Index;
        h.Ns.Ip("link", "del", "uplink0");
        h.Ns.AddVeth("uplink0", "uplink0p");
        FakeGuest guest = Running();
        using ShimContext context = h.OpenContext();

        List<RepairedNic> repaired = RepairLinks.Run(context, guest, TimeSpan.FromSeconds(5));

        Assert.Equal(["mvtap1"], repaired.Select(r => r.Nic.Name));
        Assert.True(repaired[0].Recreated);
        IpLink after = h.Ns.Link("mvtap1");
        Assert.NotEqual(before.Index, after.Index);
        Assert.Equal((before.Address, "uplink0", before.Mode, 1400, false, before.Alias, before.GroupNumber, true),
            (after.Address, after.Lower, after.Mode, after.Mtu, after.AllMulticast, after.Alias, after.GroupNumber, after.IsUp));
        Assert.Equal(untouched, h.Ns.Link("mvtap2").Index);
        Assert.True(Interop.Files.Lstat(h.Devices.Taps.NodeOf(after.Index)) is { IsCharacterDevice: true });
        NameRecord record = h.ReadState()!.Find("mvtap1")!;
        Assert.Equal((Holding.Created, after.Index), (record.Holding, record.Ifindex));
        Assert.Equal(["detach Live", "attach Live"], guest.Calls);
        Assert.Contains("52:54:00:aa:76:01", guest.Xml(GuestScope.Live));
    }

    [Fact]
    public void NothingLostNothingDone()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        FakeGuest guest = Running();
        using ShimContext context = h.OpenContext();

        Assert.Empty(RepairLinks.Run(context, guest, TimeSpan.FromSeconds(5)));
        Assert.Empty(guest.Calls);
    }

    /// <summary>With the uplink still missing, nothing can be made: one line says so, and the guest is not touched.</summary>
    [Fact]
    public void AnUplinkStillMissingFailsInOneLineAndTouchesNothing()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.Ns.Ip("link", "del", "uplink0");
        FakeGuest guest = Running();
        using ShimContext context = h.OpenContext();

        var e = Assert.Throws<ShimFailure>(() => RepairLinks.Run(context, guest, TimeSpan.FromSeconds(5)));

        Assert.Equal("domain 'web': NIC 52:54:00:aa:76:01 (mvtap1): lower device uplink0 does not exist on this host", e.Message);
        Assert.Empty(guest.Calls);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == "mvtap1");
    }

    /// <summary>A guest that does not let the NIC go: its link is made again and the line says to run repair again.</summary>
    [Fact]
    public void AGuestThatKeepsTheNicIsReportedAndTheNewLinkStays()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.Ns.Ip("link", "del", "mvtap1");
        FakeGuest guest = new("web", Xml, Xml) { LiveReadsToDetach = -1 };
        using ShimContext context = h.OpenContext();

        var e = Assert.Throws<ShimFailure>(() => RepairLinks.Run(context, guest, TimeSpan.FromMilliseconds(300)));

        Assert.StartsWith("domain 'web': NIC 52:54:00:aa:76:01 (mvtap1): the guest has not let the NIC go after 0 s", e.Message);
        Assert.Contains("run repair again", e.Message);
        Assert.Contains(h.Ns.Links(), l => l.Name == "mvtap1");
    }

    /// <summary>
    /// A link that is there but that QEMU does not hold (a repair that made it while the guest kept its old NIC) is plugged
    /// in again, and only that: QEMU is this test process here, holding mvtap1's node open as QEMU holds a tap.
    /// </summary>
    [Fact]
    public void ALinkQemuDoesNotHoldIsPluggedInAgainOnly()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        File.WriteAllText(Path.Combine(h.Settings.LibvirtRunDir, "web.xml"),
            $"<domstatus state='running' reason='booted' pid='{Environment.ProcessId}'>\n{Xml}</domstatus>\n");
        using TapQueue held = TapQueue.Open(h.Devices.Taps.NodeOf(h.Ns.Link("mvtap1").Index));
        int[] indexes = [h.Ns.Link("mvtap1").Index, h.Ns.Link("mvtap2").Index];
        FakeGuest guest = Running();
        using ShimContext context = h.OpenContext();

        List<RepairedNic> repaired = RepairLinks.Run(context, guest, TimeSpan.FromSeconds(5));

        Assert.Equal([("mvtap2", false)], repaired.Select(r => (r.Nic.Name, r.Recreated)));
        Assert.Equal(indexes, new[] { h.Ns.Link("mvtap1").Index, h.Ns.Link("mvtap2").Index });
        Assert.Equal(["detach Live", "attach Live"], guest.Calls);
    }

    [Fact]
    public void AGuestThatDoesNotRunHasNothingToRepair()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        using ShimContext context = h.OpenContext();

        var e = Assert.Throws<ShimFailure>(() => RepairLinks.Run(context, new FakeGuest("web", null, Xml), TimeSpan.FromSeconds(1)));

        Assert.Equal("domain 'web' is not running: nothing to repair (a start creates its links)", e.Message);
    }

    /// <summary>Without a domain, repair looks at every running guest (its status file) with a link gone.</summary>
    [Fact]
    public void TheRunningGuestsWithALinkGoneAreFoundInOneLookup()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        string db = TestDomains.Owned("db", TestDomains.Uuid(77), [new("52:54:00:aa:77:01", "mvtap7", "uplink1")]);
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        Assert.Equal(0, h.Run("db", "prepare", "begin", db).ExitCode);
        h.WriteStatusFile("web", Xml);
        h.WriteStatusFile("db", db);
        h.Ns.Ip("link", "del", "uplink0");
        using ShimContext context = h.OpenContext();

        Assert.Equal(["web"], RepairLinks.DomainsWithLostLinks(context));
    }
}
