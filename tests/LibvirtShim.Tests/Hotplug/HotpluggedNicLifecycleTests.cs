using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hotplug;

/// <summary>
/// A NIC hot-plugged into the recorded guest mixed01 (libvirt 9.0) is, for every later hook call and for seeding, like
/// the NIC it started with: they read the live XML's metadata. <c>mixed01-hotplugged.xml</c> is the recorded status XML
/// with the NIC as libvirt lists a hot-plugged one (alias, PCI address) and its &lt;shim:link&gt; in the metadata.
/// </summary>
public class HotpluggedNicLifecycleTests
{
    private static readonly Guid Mixed01 = Guid.Parse("ca8f3bc5-7739-4600-aee1-2b8d0e29bb59");
    private const string HotMac = "52:54:00:aa:00:08";

    private static string Recorded(string file) => File.ReadAllText(SampleFiles.Recording(Path.Combine("mixed01-lifecycle", file)));

    private static string Hotplugged =>
        File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "tests", "LibvirtShim.Tests", "Hotplug", "mixed01-hotplugged.xml"));

    /// <summary>The guest started (its mvtap7 made by prepare), then mvtap0 hot-plugged by attach-interface.</summary>
    private static HookHarness StartAndHotplug()
    {
        var h = HookHarness.Create();
        try
        {
            Assert.Equal(0, h.Run("mixed01", "prepare", "begin", Recorded("01-mixed01-prepare-begin.xml")).ExitCode);
            Assert.Equal(0, h.Run("mixed01", "started", "begin", Recorded("03-mixed01-started-begin.xml")).ExitCode);
            var guest = new FakeGuest("mixed01", Recorded("04-mixed01-reconnect-begin.xml"), null);
            using ShimContext context = h.OpenContext();
            var request = new AttachRequest("uplink0", null, Net.MacvtapMode.Vepa, AttachDetachTests.MacOf(HotMac), null, Live: true, Config: false);
            Assert.Equal("mvtap0", AttachInterface.Run(context, guest, request).Nic.Name);
            var owned = DomainReader.Read(XDocument.Parse(guest.Xml(GuestScope.Live))).OwnedNics;
            Assert.Equal(DomainReader.Read(XDocument.Parse(Hotplugged)).OwnedNics, owned);
            return h;
        }
        catch
        {
            h.Dispose();
            throw;
        }
    }

    [Fact]
    public void ReleaseDeletesItWithTheNicsTheGuestStartedWith()
    {
        using HookHarness h = StartAndHotplug();

        HookResult release = h.Run("mixed01", "release", "end", Hotplugged);

        Assert.Equal((0, ""), (release.ExitCode, release.Stderr));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Empty(h.ReadState()!.OfDomain(Mixed01));
    }

    [Fact]
    public void ReconnectWithTheStateLostRecordsIt()
    {
        using HookHarness h = StartAndHotplug();
        h.WriteStatusFile("mixed01", Hotplugged);
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));

        HookResult reconnect = h.Run("mixed01", "reconnect", "begin", Hotplugged);

        Assert.Equal((0, ""), (reconnect.ExitCode, reconnect.Stderr));
        NameState state = h.ReadState()!;
        foreach (string name in new[] { "mvtap7", "mvtap0" })
        {
            NameRecord record = state.Find(name)!;
            Assert.Equal((Holding.Created, Mixed01, h.Ns.Link(name).Index), (record.Holding, record.Domain, record.Ifindex));
        }
    }

    [Fact]
    public void SeedingFromTheStatusFileKeepsItsLinkForTheGuest()
    {
        using HookHarness h = StartAndHotplug();
        h.WriteStatusFile("mixed01", Hotplugged);
        int index = h.Ns.Link("mvtap0").Index;

        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
            Assert.Empty(session.Reseed(session.State).DeletedLinks);

        NameRecord record = h.ReadState()!.Find("mvtap0")!;
        Assert.Equal((Holding.Created, Mixed01, index), (record.Holding, record.Domain, record.Ifindex));
        Assert.Equal(index, h.Ns.Link("mvtap0").Index);
    }

    [Fact]
    public void MigrationToAHostWhereItsNameIsTakenRenamesItAndPrepareMakesIt()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("other", "prepare", "begin",
            TestDomains.Owned("other", TestDomains.Uuid(62), [new("52:54:00:aa:62:01", "mvtap0")])).ExitCode);

        HookResult migrate = h.Run("mixed01", "migrate", "begin", Hotplugged);

        Assert.Equal((0, ""), (migrate.ExitCode, migrate.Stderr));
        OwnedNic moved = DomainReader.Read(XDocument.Parse(migrate.Stdout)).OwnedNics.Single(n => n.Mac.ToString() == HotMac);
        Assert.NotEqual("mvtap0", moved.Name);
        Assert.Equal(Holding.Reserved, h.ReadState()!.Find(moved.Name)!.Holding);
        Assert.Equal(0, h.Run("mixed01", "prepare", "begin", migrate.Stdout).ExitCode);
        Assert.Equal(("vepa", HotMac), (h.Ns.Link(moved.Name).Mode, h.Ns.Link(moved.Name).Address));
    }
}
