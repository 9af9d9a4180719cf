using LibvirtShim.Reports;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// A guest stopped while its <c>release end</c> was killed (found by the soak run, issue 25: seed 431659983, steps 143 and
/// 179) leaves its links and created records behind. Seeding tells that apart from a start in flight (prepared, no status
/// file yet) by the prepare's age: younger than ReservationSeconds, a start; older, a release that never came. Status says the
/// same as seed does.
/// </summary>
public sealed class ReleaseNeverCameTests
{
    private static readonly Guest Web = Guest.Guarded("web", 71, 2, firstName: 3);

    [Fact]
    public void AStartInFlightKeepsItsLinksAndAReleaseThatNeverCameIsFinishedBySeed()
    {
        using var h = HookHarness.Create();
        DateTimeOffset prepared = DateTimeOffset.UtcNow;
        string definition = Path.Combine(h.Settings.LibvirtConfigDir, Web.Name + ".xml");
        File.WriteAllText(definition, Web.Xml);
        Assert.Equal(0, h.Run(Web.Name, "prepare", "begin", Web.Xml).ExitCode);

        h.WriteStatusFile(Web.Name, Web.Xml);
        h.RemoveStatusFile(Web.Name);   // it ran and stopped; its release was killed

        Assert.Equal([AuditProblem.StartPending], Problems(h, prepared.AddSeconds(1)));
        Seed(h, prepared.AddSeconds(1));
        Assert.Equal(2, Reliability.LinksOf(h, Web).Count);
        Assert.Single(Invariants.GuardTablesOf(h, Web.Uuid));

        DateTimeOffset later = prepared.AddSeconds(h.Settings.ReservationSeconds + 1);
        Assert.Equal([AuditProblem.DomainNotRunning], Problems(h, later));
        Assert.Contains("'libvirt-shim seed' deletes the link", AuditProblem.DomainNotRunning.Words().Advice);
        Seed(h, later);

        Assert.Empty(Reliability.LinksOf(h, Web));
        Assert.Empty(Invariants.GuardTablesOf(h, Web.Uuid));
        Assert.All(h.ReadState()!.OfDomain(Web.Uuid), r => Assert.Equal((Holding.Defined, 0L), (r.Holding, r.ExpiresAt)));
        Assert.Equal(2, h.ReadState()!.OfDomain(Web.Uuid).Count);
        Assert.Empty(Problems(h, later));
    }

    [Fact]
    public void ALinkOfAGuestSeenRunningWhoseReleaseNeverCameGoesAtTheNextSeed()
    {
        using var h = HookHarness.Create();
        DateTimeOffset prepared = DateTimeOffset.UtcNow;
        Assert.Equal(0, h.Run(Web.Name, "prepare", "begin", Web.Xml).ExitCode);
        h.WriteStatusFile(Web.Name, Web.Xml);
        Seed(h, prepared.AddSeconds(1));
        Assert.Equal(2, Reliability.LinksOf(h, Web).Count);

        h.RemoveStatusFile(Web.Name);
        Assert.Equal([AuditProblem.DomainNotRunning], Problems(h, prepared.AddSeconds(2)));
        Seed(h, prepared.AddSeconds(2));

        Assert.Empty(Reliability.LinksOf(h, Web));
        Assert.Empty(h.ReadState()!.OfDomain(Web.Uuid));
    }

    /// <summary>What status would report at <paramref name="now"/>, one problem per disagreeing name, in name order, distinct.</summary>
    private static List<AuditProblem> Problems(HookHarness h, DateTimeOffset now) =>
        AtTime(h, now, () =>
        {
            using ShimContext context = h.OpenContext();
            return StatusReport.Gather(context).Entries.Where(e => e.Problem is not null).Select(e => e.Problem!.Value).Distinct().ToList();
        });

    private static void Seed(HookHarness h, DateTimeOffset now) =>
        AtTime(h, now, () =>
        {
            using ShimContext context = h.OpenContext();
            using ShimSession session = ShimSession.Open(context);
            session.Reseed(session.State);
            return 0;
        });

    private static T AtTime<T>(HookHarness h, DateTimeOffset now, Func<T> action)
    {
        h.Clock = new ManualClock(now);
        try
        {
            return action();
        }
        finally
        {
            h.Clock = TimeProvider.System;
        }
    }
}
