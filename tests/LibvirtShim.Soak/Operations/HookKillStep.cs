using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// A step (start, destroy, migrate, save, restore) with one of the hook calls it causes killed -9 at a moment drawn from
/// the seed (<see cref="HookFaults"/>). A killed call that can stop the step (prepare, migrate, restore) must fail it
/// cleanly: the step is then done again without the fault and must succeed. A killed `release` leaves what seeding
/// cleans: `libvirt-shim seed` runs on that host, and the checks that follow must find nothing left. A guest stopped
/// within ReservationSeconds of its start, which no seed saw running, looks like a start in flight until then: seed keeps
/// its links (status: start pending) and deletes them once that time has passed, so seed is run again (once a second,
/// bounded) until they are gone. Either way the model ends as after the step alone, so what follows does not depend on
/// when the kill landed.
/// </summary>
public sealed record HookKillStep(AttemptStep Inner, HookCall Call, int DelayMs = 0) : Step
{
    /// <summary>Delays up to this: a hook call takes 5-40 ms here, so some kills land before it starts work, some during, some after.</summary>
    private const int MaxDelayMs = 40;

    public override string Kind => "hook-kill";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from inner in StartStep.Candidates(model).Concat(DestroyStep.Candidates(model)).Concat(MigrateStep.Candidates(model))
            .Concat(SaveStep.Candidates(model)).Concat(RestoreStep.Candidates(model)).Cast<AttemptStep>()
        from call in inner.HookCalls(model)
        select new HookKillStep(inner, call);

    public override Step Draw(SoakRandom random)
    {
        var inner = (AttemptStep)Inner.Draw(random);
        return this with { Inner = inner, DelayMs = random.Between(0, MaxDelayMs) };
    }

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Call.Site];
        world.Faults.Arm(site, Call, Inner.Guest, DelayMs);
        CmdResult first;
        KillOutcome outcome;
        try
        {
            first = Inner.Attempt(world, notes);
        }
        finally
        {
            outcome = world.Faults.Settle(site);
        }
        string what = outcome.Describe(Call.ToString(), DelayMs);
        if (outcome.Killed) notes.Fault($"hook {Call.Op} killed", what);
        else notes.Add(what);
        if (first.Ok && outcome.Killed && Call.Stops)
            throw new StepFailed($"{Inner} succeeded although its hook call {Call} was killed: libvirt should have stopped it");
        if (first.Ok)
        {
            Inner.Settle(world, notes);
        }
        else
        {
            if (!(outcome.Killed && Call.Stops)) throw new StepFailed($"{Inner} failed, and no killed hook call explains it: {first.Describe()}");
            notes.Add($"failed as it must ({FirstLine(first.Stderr)}); again without the fault");
            Inner.Run(world, notes);
        }
        if (outcome.Killed && !Call.Stops) SeedUntilNoLinksLeft(world, site, Inner.Guest, notes, "the killed release");
    }

    public override void Apply(SoakModel model) => Inner.Apply(model);

    public override string ToString() => $"{Inner}, its hook's {Call} killed -9 after {DelayMs} ms";

    /// <summary>
    /// After a release that never ran (or never finished): `libvirt-shim seed` on that host, again once a second (bounded by
    /// ReservationSeconds and 5 s) while links of the guest's are left, which seed keeps while they may be a start in flight.
    /// </summary>
    internal static void SeedUntilNoLinksLeft(SoakWorld world, SoakSite site, string guest, StepNotes notes, string leftBy)
    {
        int Left() => LinksLeft(world, site, guest);
        int left = Left();
        var watch = Stopwatch.StartNew();
        TimeSpan bound = TimeSpan.FromSeconds(SoakWorld.ReservationSeconds + 5);
        int seeds = 0;
        while (true)
        {
            site.Shim(["seed"]).MustSucceed($"libvirt-shim seed on {site.Label} after {leftBy}");
            seeds++;
            if (left == 0 || Left() == 0 || watch.Elapsed > bound) break;
            Thread.Sleep(TimeSpan.FromSeconds(1));
        }
        notes.Add($"{left} link(s) left by {leftBy}; {seeds} seed(s) on {site.Label} in {watch.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>How many links carrying the marks of <paramref name="site"/>'s hook for <paramref name="guest"/> the kernel has.</summary>
    internal static int LinksLeft(SoakWorld world, SoakSite site, string guest)
    {
        string alias = $"libvirt-shim:{world.Fleet.First(g => g.Name == guest).Uuid:D}@{site.Instance}";
        return IpLinks.All().Count(l => l.Alias == alias);
    }

    private static string FirstLine(string text) => text.Trim().Split('\n')[0];
}
