using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// kill -9 of the real hook executable at many moments of prepare, release, migrate and seed of a guest with 82 owned
/// NICs. After each kill the recovery libvirt would make (release; or seed) must leave kernel and state agreeing: no
/// leaked link, no name held twice, no name lost, and a bystander guest's links and records exactly as they were.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int BigNics = 82;

    [Fact]
    public void KillingPrepareAtAnyMomentLeavesNothingOnceReleased()
    {
        using var h = HookHarness.Create();
        Guest bystander = Guest.Make("bystander", 1, 8, firstName: 0);
        Guest big = Guest.Make("big", 2, BigNics, firstName: 100);
        Assert.Equal(0, h.Run(bystander.Name, "prepare", "begin", bystander.Xml).ExitCode);
        var before = Bystander.Snapshot(h, bystander);
        var random = new Random(Reliability.Seed(output, "prepare kills"));

        TimeSpan fullRun = KillSchedule.Measure(() => HookProcesses.Run(h, big.Xml, "hook", big.Name, "prepare", "begin", "-"), () => Release(h, big));
        var schedule = new KillSchedule(random, fullRun);
        var tally = new KillTally("prepare");
        int iterations = Reliability.Iterations(60);
        for (int i = 0; i < iterations; i++)
        {
            TimeSpan at = schedule.Next();
            ProcessEnd end = HookProcesses.KillAfter(h, at, big.Xml, "hook", big.Name, "prepare", "begin", "-");
            Assert.True(end.Killed || end.ExitCode == 0, $"kill {i} at {at.TotalMilliseconds:0.0} ms: prepare {end.Describe}: {end.Stderr}");
            var (records, ifindexed, links, labelled) = Progress(h, big);
            tally.Saw($"records {records,2} (ifindex set {ifindexed,2}), links {links,2} (labelled {labelled,2}), {end.Describe}", end.Killed);
            if (records == 0 && links == 0) schedule.NothingDone(at);
            if (!end.Killed) schedule.Done(at);

            string when = $"kill {i} at {at.TotalMilliseconds:0.0} ms ({records} records, {links} links)";
            if (i % 3 == 2)
            {
                // libvirt may also start the guest again: the retried prepare completes over whatever the kill left.
                HookResult again = h.Run(big.Name, "prepare", "begin", big.Xml);
                Assert.True(again.ExitCode == 0, $"{when}: prepare after the kill failed: {again.Stderr}");
                Assert.Equal((BigNics, BigNics, BigNics, BigNics), Progress(h, big));
                Invariants.Hold(h, $"{when}, prepared again", [big.Uuid]);
            }
            Release(h, big);
            AllClear(h, big, bystander, before, when);
        }
        output.WriteLine(tally.Report(iterations, fullRun));
        Assert.True(tally.Distinct >= 4, $"the kills found only {tally.Distinct} distinct states:\n{tally.Report(iterations, fullRun)}");
    }

    [Fact]
    public void KillingReleaseAtAnyMomentLeavesNothingOnceReleasedAgain()
    {
        using var h = HookHarness.Create();
        Guest bystander = Guest.Make("bystander", 1, 8, firstName: 0);
        Guest big = Guest.Make("big", 2, BigNics, firstName: 100);
        Assert.Equal(0, h.Run(bystander.Name, "prepare", "begin", bystander.Xml).ExitCode);
        var before = Bystander.Snapshot(h, bystander);
        var random = new Random(Reliability.Seed(output, "release kills"));

        TimeSpan fullRun = KillSchedule.Measure(
            () => { Prepare(h, big); return HookProcesses.Run(h, big.Xml, "hook", big.Name, "release", "end", "-"); }, () => { });
        var schedule = new KillSchedule(random, fullRun);
        var tally = new KillTally("release");
        int iterations = Reliability.Iterations(40);
        for (int i = 0; i < iterations; i++)
        {
            Prepare(h, big);
            TimeSpan at = schedule.Next();
            ProcessEnd end = HookProcesses.KillAfter(h, at, big.Xml, "hook", big.Name, "release", "end", "-");
            Assert.True(end.Killed || end.ExitCode == 0, $"kill {i}: release {end.Describe}: {end.Stderr}");
            var (records, _, links, _) = Progress(h, big);
            tally.Saw($"records {records,2}, links {links,2}, {end.Describe}", end.Killed);
            if (records == BigNics && links == BigNics) schedule.NothingDone(at);
            if (!end.Killed) schedule.Done(at);

            string when = $"kill {i} at {at.TotalMilliseconds:0.0} ms ({records} records, {links} links)";
            Release(h, big);
            AllClear(h, big, bystander, before, when);
        }
        output.WriteLine(tally.Report(iterations, fullRun));
        Assert.True(tally.Distinct >= 2, tally.Report(iterations, fullRun));
    }

    /// <summary>
    /// A guest arriving with 82 NICs, 8 of whose names the bystander holds here (so some are kept and some renamed).
    /// After the kill: release (libvirt cancels the migration), or the reservations expire and seed reclaims them, or
    /// the migration is retried, prepared and released.
    /// </summary>
    [Fact]
    public void KillingMigrateAtAnyMomentLeavesNoReservationOnceReleasedOrExpired()
    {
        using var h = HookHarness.Create();
        Guest bystander = Guest.Make("bystander", 1, 8, firstName: 0);
        Guest arriving = Guest.Make("arriving", 2, BigNics, firstName: 0);
        Assert.Equal(0, h.Run(bystander.Name, "prepare", "begin", bystander.Xml).ExitCode);
        var before = Bystander.Snapshot(h, bystander);
        var random = new Random(Reliability.Seed(output, "migrate kills"));

        TimeSpan fullRun = KillSchedule.Measure(() => HookProcesses.Run(h, arriving.Xml, "hook", arriving.Name, "migrate", "begin", "-"), () => Release(h, arriving));
        var schedule = new KillSchedule(random, fullRun);
        var tally = new KillTally("migrate");
        int iterations = Reliability.Iterations(50);
        for (int i = 0; i < iterations; i++)
        {
            TimeSpan at = schedule.Next();
            ProcessEnd end = HookProcesses.KillAfter(h, at, arriving.Xml, "hook", arriving.Name, "migrate", "begin", "-");
            Assert.True(end.Killed || end.ExitCode == 0, $"kill {i}: migrate {end.Describe}: {end.Stderr}");
            int reserved = h.ReadState()!.OfDomain(arriving.Uuid).Count(r => r.Holding == Holding.Reserved);
            Assert.True(reserved is 0 or BigNics, $"kill {i}: {reserved} of {BigNics} names reserved: a migrate reserves all or none");
            Assert.True(end.Killed || end.Stdout.Length > 0, $"kill {i}: the completed migrate printed no XML though 8 names were taken");
            tally.Saw($"reserved {reserved,2}, stdout {(end.Stdout.Length > 0 ? "XML" : "empty")}, {end.Describe}", end.Killed);
            if (reserved == 0) schedule.NothingDone(at);
            if (!end.Killed) schedule.Done(at);

            string when = $"kill {i} at {at.TotalMilliseconds:0.0} ms ({reserved} reserved)";
            switch (i % 3)
            {
                case 0:
                    Release(h, arriving);
                    break;
                case 1:
                    SeedInProcess(h, DateTimeOffset.UtcNow.AddSeconds(h.Settings.ReservationSeconds + 1));
                    break;
                default:
                    HookResult migrate = h.Run(arriving.Name, "migrate", "begin", arriving.Xml);
                    Assert.True(migrate.ExitCode == 0 && migrate.Stdout.Length > 0, $"{when}: migrate again: {migrate.Stderr}");
                    Guest arrived = arriving.WithXml(migrate.Stdout);
                    Prepare(h, arrived);
                    Assert.Equal(BigNics, Reliability.LinksOf(h, arrived).Count);
                    Invariants.Hold(h, $"{when}, migrated again and prepared", [arriving.Uuid]);
                    Release(h, arrived);
                    break;
            }
            AllClear(h, arriving, bystander, before, when);
        }
        output.WriteLine(tally.Report(iterations, fullRun));
        Assert.True(tally.Distinct >= 2, tally.Report(iterations, fullRun));
    }

    /// <summary>
    /// Two running guests and one whose release never came, with the state lost (deleted or garbage): `seed` rebuilds
    /// the records of the running guests and keeps the third's links (a start in flight looks the same) until a seed
    /// after ReservationSeconds deletes them. Killed anywhere, the next seeds finish the job.
    /// </summary>
    [Fact]
    public void KillingSeedAtAnyMomentLeavesTheNextSeedToFinishTheJob()
    {
        using var h = HookHarness.Create();
        Guest[] running = [Guest.Make("run1", 1, 30, firstName: 0), Guest.Make("run2", 2, 30, firstName: 40)];
        Guest gone = Guest.Make("gone", 3, 30, firstName: 80);
        Guid[] all = [.. running.Select(g => g.Uuid), gone.Uuid];
        var random = new Random(Reliability.Seed(output, "seed kills"));

        TimeSpan fullRun = KillSchedule.Measure(() => { SetUpLostState(h, running, gone, garbage: false); return HookProcesses.Run(h, "", "seed"); }, () => { });
        var schedule = new KillSchedule(random, fullRun);
        var tally = new KillTally("seed");
        int iterations = Reliability.Iterations(40);
        for (int i = 0; i < iterations; i++)
        {
            var expected = SetUpLostState(h, running, gone, garbage: i % 2 == 1);
            TimeSpan at = schedule.Next();
            ProcessEnd end = HookProcesses.KillAfter(h, at, "", "seed");
            Assert.True(end.Killed || end.ExitCode == 0, $"kill {i}: seed {end.Describe}: {end.Stderr}");
            int goneLinks = Reliability.LinksOf(h, gone).Count;
            NameState? state = h.ReadState();
            string stateText = state is null ? "unusable" : $"{state.Count,2} records";
            tally.Saw($"state {stateText}, links of the gone guest {goneLinks,2}, {end.Describe}", end.Killed);
            if (state is null && goneLinks == 30) schedule.NothingDone(at);
            if (!end.Killed) schedule.Done(at);

            string when = $"kill {i} at {at.TotalMilliseconds:0.0} ms (state {stateText}, {goneLinks} links of the gone guest)";
            // With the old state lost, the gone guest's links are kept (its start may be in flight) until ReservationSeconds have passed.
            SeedInProcess(h, DateTimeOffset.UtcNow);
            SeedInProcess(h, DateTimeOffset.UtcNow.AddSeconds(h.Settings.ReservationSeconds + 5));
            NameState seeded = Invariants.Hold(h, when, all);
            foreach (Guest g in running)
                Assert.Equal(expected[g.Name], Reliability.RecordsOf(seeded, g).Select(r => (r.Name, r.Holding, r.Ifindex)).ToList());
            Invariants.NothingLeftOf(h, gone.Uuid, when);
            foreach (Guest g in running)
            {
                h.RemoveStatusFile(g.Name);
                Release(h, g);
                Invariants.NothingLeftOf(h, g.Uuid, $"{when}, released {g.Name}");
            }
            Invariants.Hold(h, $"{when}, all released", all);
        }
        output.WriteLine(tally.Report(iterations, fullRun));
        Assert.True(tally.Distinct >= 2, tally.Report(iterations, fullRun));
    }

    /// <summary>Kernel and state agree, nothing is left of <paramref name="guest"/>, and the bystander is as it was.</summary>
    private static void AllClear(HookHarness h, Guest guest, Guest bystander, (List<IpLink> Links, List<NameRecord> Records) before, string when)
    {
        Look look = Invariants.HoldIn(Look.Take(h), h, when, [guest.Uuid]);
        Invariants.NothingLeftOf(look, h, guest.Uuid, when);
        Bystander.Unchanged(look, bystander, before, when);
    }

    /// <summary>The running guests prepared and running, the gone one prepared and not, the state deleted or garbage.</summary>
    private static Dictionary<string, List<(string, Holding, int)>> SetUpLostState(HookHarness h, Guest[] running, Guest gone, bool garbage)
    {
        foreach (Guest g in running)
        {
            Prepare(h, g);
            h.WriteStatusFile(g.Name, g.Xml);
        }
        Prepare(h, gone);
        NameState state = h.ReadState()!;
        var expected = running.ToDictionary(g => g.Name, g => Reliability.RecordsOf(state, g).Select(r => (r.Name, r.Holding, r.Ifindex)).ToList());
        string path = Path.Combine(h.Settings.StateDir, "state");
        if (garbage) File.WriteAllBytes(path, System.Security.Cryptography.RandomNumberGenerator.GetBytes(700));
        else File.Delete(path);
        return expected;
    }

    private static void Prepare(HookHarness h, Guest guest)
    {
        HookResult result = h.Run(guest.Name, "prepare", "begin", guest.Xml);
        Assert.True(result.ExitCode == 0, $"prepare {guest.Name}: {result.Stderr}");
    }

    private static void Release(HookHarness h, Guest guest)
    {
        HookResult result = h.Run(guest.Name, "release", "end", guest.Xml);
        Assert.True((result.ExitCode, result.Stderr) == (0, ""), $"release {guest.Name}: exit {result.ExitCode}: {result.Stderr}");
    }

    /// <summary>What `libvirt-shim seed` does, in-process, at a chosen time (for reservations to have expired).</summary>
    private static void SeedInProcess(HookHarness h, DateTimeOffset now)
    {
        h.Clock = new ManualClock(now);
        try
        {
            using ShimContext context = h.OpenContext();
            using ShimSession session = ShimSession.Open(context);
            session.Reseed(session.State);
        }
        finally
        {
            h.Clock = TimeProvider.System;
        }
    }

    /// <summary>The guest's records (and how many have their ifindex), and its marked links (and how many have their alias).</summary>
    private static (int Records, int Ifindexed, int Links, int Labelled) Progress(HookHarness h, Guest guest)
    {
        var records = h.ReadState()?.OfDomain(guest.Uuid) ?? [];
        var marker = LinkMarker.For(h.Settings);
        var links = h.Ns.Links().Where(l => Invariants.OwnerOf(l, marker, [guest.Uuid]) == guest.Uuid).ToList();
        return (records.Count, records.Count(r => r.Ifindex > 0), links.Count, links.Count(l => l.Alias is not null));
    }
}

/// <summary>A guest nobody touches: its links (ifindex, MAC, alias, group, up) and records must stay exactly as they were.</summary>
internal static class Bystander
{
    public static (List<IpLink> Links, List<NameRecord> Records) Snapshot(HookHarness h, Guest guest) => Snapshot(Look.Take(h), guest);

    public static (List<IpLink> Links, List<NameRecord> Records) Snapshot(Look look, Guest guest) =>
        (Reliability.LinksOf(look.Links, guest), Reliability.RecordsOf(look.State!, guest));

    public static void Unchanged(Look look, Guest guest, (List<IpLink> Links, List<NameRecord> Records) before, string when)
    {
        var now = Snapshot(look, guest);
        Assert.True(before.Links.SequenceEqual(now.Links), $"{when}: {guest.Name}'s links changed:\n  before {string.Join(", ", before.Links)}\n  after  {string.Join(", ", now.Links)}");
        Assert.True(before.Records.SequenceEqual(now.Records), $"{when}: {guest.Name}'s records changed");
    }
}
