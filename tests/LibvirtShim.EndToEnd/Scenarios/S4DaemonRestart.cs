using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 4, scenario 4: libvirtd restarted while five guests run. The reconnect calls leave the state as it was; with
/// the state directory wiped first, the restart (its reconnect calls) or `libvirt-shim seed` rebuilds the same state
/// from the status XML and the kernel. Transient guests: a persistent definition found by seeding would (by design)
/// keep its names held as "defined" after the guest stops.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class S4DaemonRestart(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s4-";

    [Fact]
    public void Restart_KeepsTheState_WipedState_IsRebuiltTheSame()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("4 libvirtd restart with five guests; wiped state rebuilt");
        var guests = Enumerable.Range(0, 5).Select(g => new GuestXml($"{Prefix}g{g}", [
            new OwnedNic(GuestXml.Mac(0x40 + g, 1), fixture.Tap(400 + 10 * g), LibvirtFixture.Uplink0, "bridge"),
            new OwnedNic(GuestXml.Mac(0x40 + g, 2), fixture.Tap(401 + 10 * g), LibvirtFixture.Uplink1, "vepa"),
            new DirectNic(GuestXml.Mac(0x40 + g, 3), LibvirtFixture.Uplink0),
        ])).ToList();
        try
        {
            log.Step("virsh create x5", () =>
            {
                foreach (GuestXml g in guests) fixture.Main.Create(g).MustSucceed($"virsh create {g.Name}");
            });
            string before = Snapshot(out ShimStatus statusBefore);
            Assert.True(statusBefore.Names.Count(e => guests.Any(g => e.Domain == g.Name)) == 15,
                $"expected 15 names (5 x 2 owned + 5 libvirt): {statusBefore}");
            Assert.True(statusBefore.ExitCode == 0, $"status before the restart: {statusBefore}");
            foreach (GuestXml g in guests) Expect.OwnedLinks(g, IpLinks.ByName(), LibvirtFixture.Instance);

            long logMark = fixture.LogOffset();
            log.Step("daemon restart (state kept)", fixture.RestartDaemon);
            AllStillRunning(guests);
            string afterRestart = Poll.Until(() => Snapshot(out _), s => s == before,
                "the same status after the restart", TimeSpan.FromSeconds(20));
            Assert.Equal(before, afterRestart);
            log.Say($"hook log during the restart:\n{fixture.ShimLogSince(logMark)}");

            log.Step("wipe the state directory + daemon restart", () =>
            {
                Directory.Delete(fixture.StateDir, recursive: true);
                fixture.RestartDaemon();
            });
            AllStillRunning(guests);
            ShimStatus rebuilt = fixture.Status();
            if (!rebuilt.StateUsable)
            {
                // The restart's reconnect calls did not rebuild it: the admin verb must.
                log.Say($"state not rebuilt by the restart ({rebuilt.StateProblem}); running libvirt-shim seed");
                fixture.Timings.Add("note: scenario 4: the restart's reconnect calls did not rebuild the wiped state " +
                    $"({rebuilt.StateProblem}); libvirt-shim seed did");
                log.Step("libvirt-shim seed", () => fixture.Shim("seed").MustSucceed("libvirt-shim seed"));
            }
            string afterWipe = Snapshot(out ShimStatus statusAfterWipe);
            Assert.True(before == afterWipe,
                $"state rebuilt after the wipe differs.\nbefore:\n{before}\nafter:\n{afterWipe}\nhook log:\n{fixture.ShimLogSince(logMark)}");
            Assert.True(statusAfterWipe.ExitCode == 0, $"status after the rebuild: {statusAfterWipe}");
            log.Say($"hook log since the first restart:\n{fixture.ShimLogSince(logMark)}");

            // And the admin verb alone, without a restart.
            log.Step("wipe the state directory + libvirt-shim seed", () =>
            {
                Directory.Delete(fixture.StateDir, recursive: true);
                fixture.Shim("seed").MustSucceed("libvirt-shim seed");
            });
            string afterSeed = Snapshot(out _);
            Assert.True(before == afterSeed, $"state rebuilt by seed differs.\nbefore:\n{before}\nafter:\n{afterSeed}");

            log.Step("virsh destroy x5 (parallel)", () =>
            {
                var results = Task.WhenAll(guests.Select(g => fixture.Main.DestroyAsync(g.Name))).GetAwaiter().GetResult();
                foreach (CmdResult r in results) r.MustSucceed();
            });
            foreach (GuestXml g in guests) Expect.WaitNothingLeftOf(fixture, g);
            ShimStatus end = fixture.Status();
            Assert.True(end.Names.Count == 0 && end.ExitCode == 0, $"status after destroying all: {end}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    private void AllStillRunning(List<GuestXml> guests)
    {
        HashSet<string> active = fixture.Main.ActiveNames();
        var gone = guests.Where(g => !active.Contains(g.Name)).Select(g => g.Name).ToList();
        Assert.True(gone.Count == 0, $"guests no longer running after the restart: {string.Join(", ", gone)}");
    }

    /// <summary>The whole status (every field of every name) as comparable text.</summary>
    private string Snapshot(out ShimStatus status)
    {
        status = fixture.Status();
        return $"stateUsable={status.StateUsable} exit={status.ExitCode}\n" +
               string.Join("\n", status.Names.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => n.ToString()));
    }
}
