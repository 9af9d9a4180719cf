using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

public class SeedAndConcurrencyTests
{
    [Fact]
    public void AStateDeletedWhileGuestsRunIsRebuiltAndReleaseStillFreesTheLinks()
    {
        using var h = HookHarness.Create();
        var guests = Enumerable.Range(1, 3)
            .Select(d => (Name: $"g{d}", Xml: TestDomains.Owned($"g{d}", TestDomains.Uuid(d), TestDomains.Nics(d, 4, firstName: d * 10),
            extraDevices: $"<interface type='direct'><mac address='{TestDomains.Mac(d, 9)}'/><source dev='uplink0' mode='vepa'/>" +
                $"<target dev='macvtap{d}'/></interface>"))).ToList();
        foreach (var g in guests)
        {
            Assert.Equal(0, h.Run(g.Name, "prepare", "begin", g.Xml).ExitCode);
            Assert.Equal(0, h.Run(g.Name, "start", "begin", g.Xml).ExitCode);
            h.WriteStatusFile(g.Name, g.Xml);
        }
        var before = h.ReadState()!.Records.OrderBy(r => r.Name).Select(r => (r.Name, r.Holding, r.Domain, r.Ifindex, r.Mac)).ToList();
        Directory.Delete(h.Settings.StateDir, recursive: true);

        HookResult seed = HookHarness.Finish(h.StartProcess("seed"), "");

        Assert.Equal(0, seed.ExitCode);
        Assert.Contains("from 3 running", seed.Stdout);
        Assert.Equal(before, h.ReadState()!.Records.OrderBy(r => r.Name).Select(r => (r.Name, r.Holding, r.Domain, r.Ifindex, r.Mac)).ToList());
        foreach (var g in guests)
        {
            h.RemoveStatusFile(g.Name);
            Assert.Equal(0, h.Run(g.Name, "release", "end", g.Xml).ExitCode);
        }
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Empty(h.ReadState()!.Records);
    }

    [Fact]
    public void ACorruptStateIsRebuiltByTheNextCall()
    {
        using var h = HookHarness.Create();
        string web = TestDomains.Owned("web", TestDomains.Uuid(1), TestDomains.Nics(1, 2, firstName: 0));
        Assert.Equal(0, h.Run("web", "prepare", "begin", web).ExitCode);
        h.WriteStatusFile("web", web);
        File.WriteAllBytes(Path.Combine(h.Settings.StateDir, "state"), "LVSHIMST garbage"u8.ToArray());

        HookResult other = h.Run("db", "prepare", "begin", TestDomains.Owned("db", TestDomains.Uuid(2), [new(TestDomains.Mac(2, 0), "mvtap1")]));

        Assert.Equal(1, other.ExitCode);
        Assert.Contains("name is held by domain 'web'", other.Stderr);
        Assert.Contains("rebuilding it by seeding", File.ReadAllText(h.Settings.LogFile));
    }

    [Fact]
    public void SixteenPrepareProcessesAtOnceAllSucceedAndLoseNoRecord()
    {
        using var h = HookHarness.Create();
        var domains = Enumerable.Range(1, 16)
            .Select(d => (Name: $"p{d}", Xml: TestDomains.Owned($"p{d}", TestDomains.Uuid(d), TestDomains.Nics(d, 4, firstName: d * 4)))).ToList();

        var results = domains.Select(d => (d, p: h.StartProcess("hook", d.Name, "prepare", "begin", "-"))).ToList()
            .Select(x => HookHarness.Finish(x.p, x.d.Xml)).ToList();

        Assert.All(results, r => Assert.Equal((0, ""), (r.ExitCode, r.Stderr)));
        Assert.Equal(64, h.ReadState()!.Records.Count(r => r.Holding == Holding.Created));
        Assert.Equal(64, h.Ns.Links().Count(l => l.Kind == "macvtap" && l.IsUp));
    }

    [Fact]
    public void TwoDomainsRacingForOneNameExactlyOneWins()
    {
        using var h = HookHarness.Create();
        for (int round = 0; round < 3; round++)
        {
            string name = $"mvtap{round}";
            var racers = new[] { 1, 2 }.Select(d =>
                (Name: $"r{d}", Xml: TestDomains.Owned($"r{d}", TestDomains.Uuid(d), [new(TestDomains.Mac(d, round), name)]))).ToList();
            var results = racers.Select(r => (r, p: h.StartProcess("hook", r.Name, "prepare", "begin", "-"))).ToList()
                .Select(x => (x.r, res: HookHarness.Finish(x.p, x.r.Xml))).ToList();

            Assert.Single(results, x => x.res.ExitCode == 0);
            var loser = results.Single(x => x.res.ExitCode == 1);
            Assert.Contains($"({name}): name is held by domain 'r", loser.res.Stderr);
            var winner = results.Single(x => x.res.ExitCode == 0);
            Assert.Equal(winner.r.Name, h.ReadState()!.Find(name)!.DomainName);
            foreach (var r in racers) Assert.Equal(0, h.Run(r.Name, "release", "end", r.Xml).ExitCode);
        }
    }
}
