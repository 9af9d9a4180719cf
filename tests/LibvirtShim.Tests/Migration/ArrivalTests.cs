using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Migration;

/// <summary>migrate begin / restore begin against the real kernel: names reserved at once, freed by release or expiry.</summary>
public class ArrivalTests
{
    private static string TargetOf(string xml, string mac) =>
        DomainReader.Read(XDocument.Parse(xml)).OwnedNics.Single(n => n.Mac.ToString() == mac).Name;

    [Fact]
    public void ReplaysTheRecordedMigrationWithTheUplinkMappedAsTheRecordingDid()
    {
        using var h = HookHarness.Create("uplinkB");
        h.Settings.Uplinks["uplink0"] = "uplinkB";
        string dir = SampleFiles.Recording("migrate-in-rewrite");
        string incoming = File.ReadAllText(Path.Combine(dir, "01-m1-migrate-begin.xml"));

        HookResult migrate = h.Run("m1", "migrate", "begin", incoming);

        Assert.Equal((0, ""), (migrate.ExitCode, migrate.Stderr));
        var expected = XDocument.Parse(incoming);
        expected.Root!.Element("devices")!.Element("interface")!.Element("source")!.SetAttributeValue("dev", "uplinkB");
        Assert.True(XNode.DeepEquals(expected, XDocument.Parse(migrate.Stdout)));
        foreach (string step in new[] { "02-m1-prepare-begin", "03-m1-start-begin", "04-m1-started-begin" })
        {
            string[] argv = File.ReadAllText(Path.Combine(dir, step + ".argv")).Split(' ', StringSplitOptions.TrimEntries);
            Assert.Equal(0, h.Run(argv[1], argv[2], argv[3], File.ReadAllText(Path.Combine(dir, step + ".xml"))).ExitCode);
        }
        NameRecord recorded = Assert.Single(h.ReadState()!.Records);
        Assert.Equal(("macvtap0", Holding.Libvirt, "uplinkB"), (recorded.Name, recorded.Holding, recorded.Lower));
    }

    [Fact]
    public void TheRecordedFailedMigrationLeavesNothing()
    {
        using var h = HookHarness.Create("uplinkB");
        h.Settings.Uplinks["uplink0"] = "uplinkB";
        foreach (string argvFile in Directory.GetFiles(SampleFiles.Recording("migrate-in-fails-cleanup"), "*.argv").Order())
        {
            string[] argv = File.ReadAllText(argvFile).Split(' ', StringSplitOptions.TrimEntries);
            Assert.Equal(0, h.Run(argv[1], argv[2], argv[3], File.ReadAllText(Path.ChangeExtension(argvFile, ".xml"))).ExitCode);
        }
        Assert.Empty(h.ReadState()!.Records);
    }

    [Fact]
    public void SixteenArrivalsAtOnceWithTheSameNamesGetDistinctNamesAndAllPrepare()
    {
        using var h = HookHarness.Create();
        var domains = Enumerable.Range(1, 16)
            .Select(d => (Name: $"m{d}", Xml: TestDomains.Owned($"m{d}", TestDomains.Uuid(d), TestDomains.Nics(d, 8, firstName: 0)))).ToList();

        var processes = domains.Select(d => (d, p: h.StartProcess("hook", d.Name, "migrate", "begin", "-"))).ToList();
        var arrived = processes.Select(x => (x.d.Name, Result: HookHarness.Finish(x.p, x.d.Xml), Original: x.d.Xml)).ToList();

        Assert.All(arrived, a => Assert.Equal((0, ""), (a.Result.ExitCode, a.Result.Stderr)));
        var finalXml = arrived.Select(a => (a.Name, Xml: a.Result.Stdout.Length > 0 ? a.Result.Stdout : a.Original)).ToList();
        var names = finalXml.SelectMany(a => DomainReader.Read(XDocument.Parse(a.Xml)).OwnedNics.Select(n => n.Name)).ToList();
        Assert.Equal(128, names.Distinct().Count());
        NameState state = h.ReadState()!;
        Assert.Equal(names.Order(), state.Records.Where(r => r.Holding == Holding.Reserved).Select(r => r.Name).Order());

        var prepares = finalXml.Select(a => (a, p: h.StartProcess("hook", a.Name, "prepare", "begin", "-"))).ToList();
        Assert.All(prepares, x => Assert.Equal(0, HookHarness.Finish(x.p, x.a.Xml).ExitCode));
        Assert.Equal(names.Order(), h.Ns.Links().Where(l => l.Kind == "macvtap").Select(l => l.Name).Order());
        Assert.Equal(128, h.ReadState()!.Records.Count(r => r.Holding == Holding.Created));
    }

    [Fact]
    public void ACancelledMigrationLeavesNoReservationAndNoLink()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("m1", TestDomains.Uuid(1), TestDomains.Nics(1, 3, firstName: 4));
        Assert.Equal(("", 0), (h.Run("m1", "migrate", "begin", xml).Stdout, h.Run("m1", "migrate", "begin", xml).ExitCode));
        Assert.Equal(3, h.ReadState()!.Records.Count(r => r.Holding == Holding.Reserved));
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap6", "type", "macvtap");

        HookResult prepare = h.Run("m1", "prepare", "begin", xml);
        Assert.Equal(1, prepare.ExitCode);
        Assert.Equal(0, h.Run("m1", "stopped", "end", xml).ExitCode);
        Assert.Equal(0, h.Run("m1", "release", "end", xml).ExitCode);

        Assert.Empty(h.ReadState()!.OfDomain(TestDomains.Uuid(1)));
        Assert.Equal(["mvtap6"], h.Ns.Links().Where(l => l.Kind == "macvtap").Select(l => l.Name));
    }

    [Fact]
    public void ARenamedArrivalKeepsItsMtuAndAllmulticast()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("b", "prepare", "begin", TestDomains.Owned("b", TestDomains.Uuid(2), [new(TestDomains.Mac(2, 0), "mvtap3")])).ExitCode);
        string a = TestDomains.Owned("a", TestDomains.Uuid(1),
            [new(TestDomains.Mac(1, 0), "mvtap3", LinkAttributes: "mtu='1400' allmulticast='off'")]);

        HookResult migrate = h.Run("a", "migrate", "begin", a);
        OwnedNic arriving = Assert.Single(DomainReader.Read(XDocument.Parse(migrate.Stdout)).OwnedNics);
        Assert.Equal(0, h.Run("a", "prepare", "begin", migrate.Stdout).ExitCode);

        Assert.NotEqual("mvtap3", arriving.Name);
        Assert.Equal((1400u, false), (arriving.Mtu, arriving.AllMulticast));
        IpLink link = h.Ns.Link(arriving.Name);
        Assert.Equal((1400, false), (link.Mtu, link.AllMulticast));
    }

    [Fact]
    public void ARestoredGuestWhoseNameWasTakenGetsANewOne()
    {
        using var h = HookHarness.Create();
        string a = TestDomains.Owned("a", TestDomains.Uuid(1), [new(TestDomains.Mac(1, 0), "mvtap3")]);
        Assert.Equal(0, h.Run("a", "prepare", "begin", a).ExitCode);
        Assert.Equal(0, h.Run("a", "release", "end", a).ExitCode);
        Assert.Equal(0, h.Run("b", "prepare", "begin", TestDomains.Owned("b", TestDomains.Uuid(2), [new(TestDomains.Mac(2, 0), "mvtap3")])).ExitCode);

        HookResult restore = h.Run("a", "restore", "begin", a);
        string name = TargetOf(restore.Stdout, TestDomains.Mac(1, 0));
        HookResult prepare = h.Run("a", "prepare", "begin", restore.Stdout);

        Assert.NotEqual("mvtap3", name);
        Assert.Equal(0, prepare.ExitCode);
        Assert.Equal(TestDomains.Mac(1, 0), h.Ns.Link(name).Address);
        Assert.Equal(TestDomains.Mac(2, 0), h.Ns.Link("mvtap3").Address);
    }

    [Fact]
    public void AReservationWhosePrepareNeverComesExpiresAndIsReclaimed()
    {
        using var h = HookHarness.Create();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch.AddYears(56));
        h.Clock = clock;
        h.Settings.Capacity = 4;
        Assert.Equal(0, h.Run("m1", "migrate", "begin", TestDomains.Owned("m1", TestDomains.Uuid(1), TestDomains.Nics(1, 4, firstName: 0))).ExitCode);
        string m2 = TestDomains.Owned("m2", TestDomains.Uuid(2), TestDomains.Nics(2, 1, firstName: 0));

        HookResult full = h.Run("m2", "migrate", "begin", m2);
        clock.Advance(TimeSpan.FromSeconds(h.Settings.ReservationSeconds + 1));
        HookResult later = h.Run("m2", "migrate", "begin", m2);

        Assert.Equal(1, full.ExitCode);
        Assert.Contains("no free name: all 4 mvtapN names are held", full.Stderr);
        Assert.Equal((0, ""), (later.ExitCode, later.Stdout));
        Assert.Equal("m2", Assert.Single(h.ReadState()!.Records).DomainName);
    }
}
