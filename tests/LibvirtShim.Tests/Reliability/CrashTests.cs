using LibvirtShim.Reports;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// kill -9 of the real hook executable at many moments of prepare, release, migrate and seed of a guest with 82 owned
/// NICs, guarded (guard='ip') in prepare, release and seed. After each kill the recovery libvirt would make (release; or
/// seed) must leave kernel and state agreeing: no leaked link, no name held twice, no name lost, no guard table of the
/// guest's left, and a bystander guest's links and records exactly as they were.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int BigNics = 82;

    [Fact]
    public void KillingPrepareAtAnyMomentLeavesNothingOnceReleased()
    {
        using var h = HookHarness.Create();
        Guest bystander = Guest.Guarded("bystander", 1, 8, firstName: 0);
        Guest big = Guest.Guarded("big", 2, BigNics, firstName: 100);
        Assert.Equal(0, h.Run(bystander.Name, "prepare", "begin", bystander.Xml).ExitCode);
        var before = Bystander.Snapshot(h, bystander);

        KillLoop.Run(output, "prepare", rounds: 60, distinctAtLeast: 4,
            () => HookProcesses.Run(h, big.Xml, "hook", big.Name, "prepare", "begin", "-"), () => Release(h, big),
            (_, at) => HookProcesses.KillAfter(h, at, big.Xml, "hook", big.Name, "prepare", "begin", "-"),
            kill =>
            {
                var (records, ifindexed, links, labelled) = Progress(h, big);
                string when = $"{kill.When} ({records} records, {links} links)";
                if (links > 0 && records == 0)
                {
                    // Links of a prepare killed before its state write, labelled or not: status never calls that healthy.
                    using ShimContext context = h.OpenContext();
                    Assert.False(StatusReport.Gather(context).Agrees, $"{when}: status calls the leftovers of a killed prepare healthy");
                }
                if (kill.Round % 3 == 2)
                {
                    // libvirt may also start the guest again: the retried prepare completes over whatever the kill left.
                    HookResult again = h.Run(big.Name, "prepare", "begin", big.Xml);
                    Assert.True(again.ExitCode == 0, $"{when}: prepare after the kill failed: {again.Stderr}");
                    Assert.Equal((BigNics, BigNics, BigNics, BigNics), Progress(h, big));
                    Invariants.Hold(h, $"{when}, prepared again", [big.Uuid]);
                }
                Release(h, big);
                AllClear(h, big, bystander, before, when);
                return new($"records {records,2} (ifindex set {ifindexed,2}), links {links,2} (labelled {labelled,2})", records == 0 && links == 0);
            });
    }

    [Fact]
    public void KillingReleaseAtAnyMomentLeavesNothingOnceReleasedAgain()
    {
        using var h = HookHarness.Create();
        Guest bystander = Guest.Guarded("bystander", 1, 8, firstName: 0);
        Guest big = Guest.Guarded("big", 2, BigNics, firstName: 100);
        Assert.Equal(0, h.Run(bystander.Name, "prepare", "begin", bystander.Xml).ExitCode);
        var before = Bystander.Snapshot(h, bystander);

        KillLoop.Run(output, "release", rounds: 40, distinctAtLeast: 2,
            () => { Prepare(h, big); return HookProcesses.Run(h, big.Xml, "hook", big.Name, "release", "end", "-"); }, () => { },
            (_, at) =>
            {
                Prepare(h, big);
                return HookProcesses.KillAfter(h, at, big.Xml, "hook", big.Name, "release", "end", "-");
            },
            kill =>
            {
                var (records, _, links, _) = Progress(h, big);
                string when = $"{kill.When} ({records} records, {links} links)";
                Release(h, big);
                AllClear(h, big, bystander, before, when);
                return new($"records {records,2}, links {links,2}", records == BigNics && links == BigNics);
            });
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

        KillLoop.Run(output, "migrate", rounds: 50, distinctAtLeast: 2,
            () => HookProcesses.Run(h, arriving.Xml, "hook", arriving.Name, "migrate", "begin", "-"), () => Release(h, arriving),
            (_, at) => HookProcesses.KillAfter(h, at, arriving.Xml, "hook", arriving.Name, "migrate", "begin", "-"),
            kill =>
            {
                int reserved = h.ReadState()!.OfDomain(arriving.Uuid).Count(r => r.Holding == Holding.Reserved);
                string when = $"{kill.When} ({reserved} reserved)";
                Assert.True(reserved is 0 or BigNics, $"{when}: {reserved} of {BigNics} names reserved: a migrate reserves all or none");
                Assert.True(kill.End.Killed || kill.End.Stdout.Length > 0, $"{when}: the completed migrate printed no XML though 8 names were taken");
                var found = new KillFinding($"reserved {reserved,2}, stdout {(kill.End.Stdout.Length > 0 ? "XML" : "empty")}", reserved == 0);
                switch (kill.Round % 3)
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
                return found;
            });
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
        Guest[] running = [Guest.Guarded("run1", 1, 30, firstName: 0), Guest.Make("run2", 2, 30, firstName: 40)];
        Guest gone = Guest.Guarded("gone", 3, 30, firstName: 80);
        Guid[] all = [.. running.Select(g => g.Uuid), gone.Uuid];
        Dictionary<string, List<(string, Holding, int, Net.GuardMode)>> expected = [];

        KillLoop.Run(output, "seed", rounds: 40, distinctAtLeast: 2,
            () => { SetUpLostState(h, running, gone, garbage: false); return HookProcesses.Run(h, "", "seed"); }, () => { },
            (round, at) =>
            {
                expected = SetUpLostState(h, running, gone, garbage: round % 2 == 1);
                return HookProcesses.KillAfter(h, at, "", "seed");
            },
            kill =>
            {
                int goneLinks = Reliability.LinksOf(h, gone).Count;
                NameState? state = h.ReadState();
                string stateText = state is null ? "unusable" : $"{state.Count,2} records";
                string when = $"{kill.When} (state {stateText}, {goneLinks} links of the gone guest)";
                // With the old state lost, the gone guest's links are kept (its start may be in flight) until ReservationSeconds have passed.
                SeedInProcess(h, DateTimeOffset.UtcNow);
                SeedInProcess(h, DateTimeOffset.UtcNow.AddSeconds(h.Settings.ReservationSeconds + 5));
                NameState seeded = Invariants.Hold(h, when, all);
                foreach (Guest g in running)
                    Assert.Equal(expected[g.Name], Reliability.RecordsOf(seeded, g).Select(r => (r.Name, r.Holding, r.Ifindex, r.Guard)).ToList());
                Assert.Single(Invariants.GuardTablesOf(h, running[0].Uuid));
                Invariants.NothingLeftOf(h, gone.Uuid, when);
                foreach (Guest g in running)
                {
                    h.RemoveStatusFile(g.Name);
                    Release(h, g);
                    Invariants.NothingLeftOf(h, g.Uuid, $"{when}, released {g.Name}");
                }
                Invariants.Hold(h, $"{when}, all released", all);
                return new($"state {stateText}, links of the gone guest {goneLinks,2}", state is null && goneLinks == 30);
            });
    }

    /// <summary>Kernel and state agree, nothing is left of <paramref name="guest"/>, and the bystander is as it was.</summary>
    private static void AllClear(HookHarness h, Guest guest, Guest bystander, (List<IpLink> Links, List<NameRecord> Records) before, string when)
    {
        Look look = Invariants.HoldIn(Look.Take(h), h, when, [guest.Uuid]);
        Invariants.NothingLeftOf(look, h, guest.Uuid, when);
        Bystander.Unchanged(look, bystander, before, when);
        if (bystander.Nics.Any(n => n.LinkAttributes.Contains("guard=", StringComparison.Ordinal)))
            Assert.True(Invariants.GuardTablesOf(h, bystander.Uuid).Count == 1, $"{when}: the bystander lost its guard");
    }

    /// <summary>The running guests prepared and running, the gone one prepared and not, the state deleted or garbage.</summary>
    private static Dictionary<string, List<(string, Holding, int, Net.GuardMode)>> SetUpLostState(
        HookHarness h, Guest[] running, Guest gone, bool garbage)
    {
        foreach (Guest g in running)
        {
            Prepare(h, g);
            h.WriteStatusFile(g.Name, g.Xml);
        }
        Prepare(h, gone);
        NameState state = h.ReadState()!;
        var expected = running.ToDictionary(g => g.Name,
            g => Reliability.RecordsOf(state, g).Select(r => (r.Name, r.Holding, r.Ifindex, r.Guard)).ToList());
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
        Assert.True(before.Links.SequenceEqual(now.Links),
            $"{when}: {guest.Name}'s links changed:\n  before {string.Join(", ", before.Links)}\n  after  {string.Join(", ", now.Links)}");
        Assert.True(before.Records.SequenceEqual(now.Records), $"{when}: {guest.Name}'s records changed");
    }
}
