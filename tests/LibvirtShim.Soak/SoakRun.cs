using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Checks;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;
using Xunit;

namespace LibvirtShim.Soak;

/// <summary>
/// Issue 25: the fleet of <see cref="Fleet"/> on this host's libvirt 9.0 and libvirt 11.3 (scripts/libvirt-next.sh), each
/// the other's migration peer, through SOAK_STEPS steps (200 by default, what CI runs) chosen by SOAK_SEED, with the
/// invariants checked after each. Passes when no step failed and no invariant broke; the log is artifacts/soak-SEED.log.
/// At the end every guest is removed, both states are seeded, and both hosts must hold no name and no link of the hook's.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class SoakRun(LibvirtFixture fixture)
{
    [Fact]
    public void Fleet_UnderFaults_KeepsEveryInvariant()
    {
        fixture.Require();
        if (fixture.NotApplicable(fixture.Daemon.InTree, "the soak drives this host's daemon and libvirt-next itself: run it with the host profile"))
            return;
        SoakSettings settings = SoakSettings.FromEnvironment();
        using var log = new SoakLog(fixture.RepoRoot, settings.Seed);
        Console.Error.WriteLine($"soak: seed {settings.Seed}, {settings.Steps} steps, log {log.Path}");
        SoakResult result;
        using (SoakWorld world = SoakWorld.Open(fixture, Fleet.Create()))
        {
            result = new SoakRunner(world, new SoakModel(world.Fleet, world.Features), settings, log).Run();
            foreach (SoakSite site in world.Sites)
            {
                site.Virsh.RemoveGuests(Fleet.Prefix);
                log.Line($"every guest removed from {site.Label}; its status: {site.Status().Show()}");
            }
            foreach (string left in NothingLeft(world)) log.Line($"after removing every guest: {left}");
            Assert.Empty(NothingLeft(world));
        }
        fixture.Timings.Add($"soak: {result.Summary()}");
        Assert.True(result.Violations.Count == 0, $"{result.Violations.Count} violation(s) in the soak run (log: {log.Path}):\n{result.Summary()}");
    }

    /// <summary>
    /// Seeds the host's state until it holds nothing, once a second, for at most ReservationSeconds and a little more: a hold of
    /// adopt's for a definition that no allocation or seed saw before it was undefined waits that long (README).
    /// </summary>
    private static ShimStatus SeededUntilEmpty(SoakSite site)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            site.Shim(["seed"]).MustSucceed($"{site.Label}: libvirt-shim seed");
            ShimStatus status = site.Status();
            if ((status.Names.Count == 0 && status.ExitCode == 0) || watch.Elapsed > TimeSpan.FromSeconds(SoakWorld.ReservationSeconds + 10))
                return status;
            Thread.Sleep(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>What either host still holds once every guest is gone and its state seeded: names, links with its hook's marks, guard tables.</summary>
    private static IEnumerable<string> NothingLeft(SoakWorld world)
    {
        var links = IpLinks.All();
        foreach (SoakSite site in world.Sites)
        {
            ShimStatus status = SeededUntilEmpty(site);
            foreach (StatusEntry e in status.Names) yield return $"{site.Label} holds {e}";
            foreach (KernelLink l in links.Where(l => l.Alias?.EndsWith("@" + site.Instance, StringComparison.Ordinal) == true))
                yield return $"{site.Label}'s hook link {l}";
            if (!world.Features.Guard) continue;
            foreach (GuardTable t in GuardView.Read().Where(t => t.Comment?.EndsWith("@" + site.Instance, StringComparison.Ordinal) == true))
                yield return $"{site.Label}'s guard {t}";
        }
    }
}
