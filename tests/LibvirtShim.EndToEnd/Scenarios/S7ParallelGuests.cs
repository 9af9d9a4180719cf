using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>Issue 4, scenario 7: 20 guests with 4 owned NICs each, started at once and destroyed at once (parallel virsh processes).</summary>
[Collection(LibvirtCollection.Name)]
public sealed class S7ParallelGuests(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s7-";
    private const int Guests = 20;
    private const int NicsPerGuest = 4;

    [Fact]
    public async Task TwentyGuests_StartedAndDestroyedAtOnce()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("7 20 guests x 4 owned NICs, parallel start and destroy");
        string[] modes = ["bridge", "vepa", "private", "bridge"];
        var guests = Enumerable.Range(0, Guests).Select(g => new GuestXml($"{Prefix}g{g:00}",
            Enumerable.Range(0, NicsPerGuest).Select(n => (Nic)new OwnedNic(
                GuestXml.Mac(0x70 + g, n), fixture.Tap(700 + g * NicsPerGuest + n), n % 2 == 0 ? LibvirtFixture.Uplink0 : LibvirtFixture.Uplink1,
                modes[n])).ToList())).ToList();
        try
        {
            foreach (GuestXml g in guests) fixture.Main.Define(g);
            CmdResult[] starts = await log.StepAsync($"{Guests} x virsh start, in parallel",
                () => Task.WhenAll(guests.Select(g => fixture.Main.StartAsync(g.Name))));
            var failed = starts.Where(r => !r.Ok).ToList();
            Assert.True(failed.Count == 0, $"{failed.Count} starts failed:\n{string.Join("\n", failed.Select(r => r.Describe()))}");
            HashSet<string> active = fixture.Main.ActiveNames();
            Assert.All(guests, g => Assert.Contains(g.Name, active));

            var links = IpLinks.ByName();
            foreach (GuestXml g in guests) Expect.OwnedLinks(g, links, LibvirtFixture.Instance);
            var ours = links.Values.Where(l => l.IsMacvtap && l.Mac.StartsWith("52:54:00:e2:", StringComparison.Ordinal)).ToList();
            Assert.Equal(Guests * NicsPerGuest, ours.Select(l => l.Name).Distinct().Count());
            Assert.Equal(Guests * NicsPerGuest, ours.Select(l => l.Index).Distinct().Count());
            Assert.All(ours, l => Assert.True(l.AdminUp, $"{l} is not up"));

            ShimStatus status = fixture.Status();
            var created = status.Names.Where(e => e.HeldAs == "created" && guests.Any(g => g.Name == e.Domain)).ToList();
            Assert.True(created.Count == Guests * NicsPerGuest && created.All(e => e.Problem is null && e.Link == "up"),
                $"status should hold {Guests * NicsPerGuest} created names, all up, no problem: {status}");
            Assert.True(status.ExitCode == 0, $"status: {status}");
            foreach (GuestXml g in guests)
            {
                var rows = fixture.Main.DomIfList(g.Name);
                Assert.Equal(g.Owned.Select(n => (n.Name, n.Mac)).Order(), rows.Select(r => (r.Interface, r.Mac)).Order());
            }

            CmdResult[] destroys = await log.StepAsync($"{Guests} x virsh destroy, in parallel",
                () => Task.WhenAll(guests.Select(g => fixture.Main.DestroyAsync(g.Name))));
            failed = destroys.Where(r => !r.Ok).ToList();
            Assert.True(failed.Count == 0, $"{failed.Count} destroys failed:\n{string.Join("\n", failed.Select(r => r.Describe()))}");
            log.Step("wait until nothing is left", () =>
            {
                foreach (GuestXml g in guests) Expect.WaitNothingLeftOf(fixture, g);
            });
            ShimStatus end = fixture.Status();
            Assert.True(end.Names.Count == 0 && end.ExitCode == 0, $"status at the end: {end}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }
}
