using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using Serilog;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>prepare begin</c>: claim each owned NIC's name and create its macvtap (lower device, MAC, mode, MTU, allmulticast,
/// no host address, up or down as <see cref="LinkStart"/> says, marked as the hook's), as <see cref="PreparePlanner"/> plans
/// it. A guarded NIC's guard is in place before its link is up (<see cref="GuardLinks"/>, one transaction for all of them),
/// whoever brings it up. All or nothing: on any failure what this call created is deleted, its guard with it, and the state
/// file is left as it was.
/// </summary>
internal static class PrepareLinks
{
    /// <summary>
    /// Returns how many links were created (links already there from an earlier prepare are kept). The state is
    /// written once, after the links exist: a crash before that leaves links carrying the domain's marks and no
    /// record of them, which the domain's release (its XML declares the NICs) and seeding find by those marks.
    /// <paramref name="wholeGuard"/>: the domain's whole guard when <paramref name="domain"/>'s NICs are not all of its NICs (a
    /// NIC plugged into a running guest); by default the guards of its NICs.
    /// </summary>
    public static int Run(
        ShimSession session, ShimSettings settings, LinkTable links, Func<GuardTables> guards, LinkMarker marker, ILogger log, long now,
        DomainDescription domain, LinkStart start, IReadOnlyList<LinkGuard>? wholeGuard = null)
    {
        PreparePlan plan = PreparePlanner.Plan(settings, links, marker, session.Lease, session.State, domain, now, start.Up);
        if (plan.Failure is { } failure) throw new ShimFailure(failure.Message);

        foreach (NameRecord stale in plan.StaleRecords)
        {
            log.Information("Name {Name}: dropping stale record of {Holder}", stale.Name, Describe.Holder(stale));
            session.State.Remove(stale.Name);
        }
        DeleteReplaced(links, marker, domain, plan);

        var toCreate = plan.Nics.Where(n => n.Action != LinkAction.Keep).ToList();
        GuardMode hostGuard = GuardModes.Parse(settings.Guard);
        IReadOnlyList<LinkGuard> guarded = wholeGuard ?? GuardLinks.For(domain.OwnedNics, hostGuard);
        var ownNames = domain.OwnedNics.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        var guardedBefore = wholeGuard?.Where(g => !ownNames.Contains(g.Link)).ToList() ?? [];
        bool hadGuard = session.State.OfDomain(domain.Uuid).Any(r => r.Guard != GuardMode.Off);
        bool touchesGuard = guarded.Count > 0 || hadGuard;
        try
        {
            Action? guard = touchesGuard ? () => GuardLinks.Apply(guards(), marker, domain.Uuid, domain.Name, guarded) : null;
            IReadOnlyList<LinkOutcome> outcomes = links.CreateMacvtaps(toCreate.Select(n => Request(marker, domain, n, start.Up)).ToList(), guard);
            int failed = outcomes.ToList().FindIndex(o => o.Error is not null);
            if (failed >= 0)
                throw new ShimFailure($"{Describe.Nic(domain, toCreate[failed].Nic)}: cannot create macvtap on {toCreate[failed].Lower}: " +
                    $"{outcomes[failed].Error!.Value.Describe()}");
            foreach (NicPlan nic in plan.Nics.Where(n => n.Action == LinkAction.Keep))
                session.State.Put(Record(domain, nic, nic.Existing!.Value.Index, session.State, hostGuard));
            for (int i = 0; i < toCreate.Count; i++)
                session.State.Put(Record(domain, toCreate[i], outcomes[i].Created!.Value.Index, session.State, hostGuard));
            session.Commit();
        }
        catch
        {
            if (touchesGuard) RestoreGuard(guards, marker, log, domain, guardedBefore);
            RollBack(links, marker, log, domain);
            throw;
        }
        return toCreate.Count;
    }

    /// <summary>Rollback of the guard: none at a start, the guard the other NICs had before a hot-plug.</summary>
    private static void RestoreGuard(Func<GuardTables> guards, LinkMarker marker, ILogger log, DomainDescription domain, List<LinkGuard> before)
    {
        try
        {
            GuardLinks.Apply(guards(), marker, domain.Uuid, domain.Name, before);
        }
        catch (ShimFailure e)
        {
            log.Error("Rollback: could not take back the guard this call put in place: {Error}", e.Message);
        }
    }

    /// <summary>The domain's links of an earlier prepare that are not as asked go first (the plan has checked they carry its marks).</summary>
    private static void DeleteReplaced(LinkTable links, LinkMarker marker, DomainDescription domain, PreparePlan plan)
    {
        var replaced = plan.Nics.Where(n => n.Action == LinkAction.Replace).Select(n => n.Existing!.Value).ToList();
        if (replaced.Count > 0 && DeleteDomainLinks.Run(links, marker, domain.Uuid, domain.Name, replaced).Failure is { } failure)
            throw failure;
    }

    private static NameRecord Record(DomainDescription domain, NicPlan nic, int ifindex, NameState state, GuardMode hostGuard)
    {
        NameRecord? before = state.Find(nic.Nic.Name);
        bool kept = NameRecord.IsInDefinitionOf(before, domain.Uuid);
        return new NameRecord(nic.Nic.Name, Holding.Created, domain.Uuid, domain.Name, nic.Nic.Mac, nic.Lower!, nic.Nic.Mode,
            ifindex, ExpiresAt: kept ? before!.ExpiresAt : 0, InDefinitionToo: kept, Guard: nic.Nic.GuardOr(hostGuard));
    }

    private static MacvtapRequest Request(LinkMarker marker, DomainDescription domain, NicPlan nic, bool up) =>
        new(nic.Nic.Name, nic.LowerLink!.Value.Index, nic.Nic.Mac, nic.Nic.Mode, marker.Group(domain.Uuid), marker.Alias(domain.Uuid),
            nic.Nic.Mtu, nic.Nic.AllMulticast, up);

    /// <summary>
    /// Rollback, whatever failed (the kernel, the state write, a bug): the domain's links on its NICs' names go as at
    /// release. Its start is failing, so links kept from an earlier prepare go too; the state on disk was not changed. A
    /// failure here is logged, and the caller reports the first one.
    /// </summary>
    private static void RollBack(LinkTable links, LinkMarker marker, ILogger log, DomainDescription domain)
    {
        try
        {
            var onNames = DeleteDomainLinks.OnNames(links, domain.OwnedNics.Select(n => n.Name));
            LinkDeletion deletion = DeleteDomainLinks.Run(links, marker, domain.Uuid, domain.Name, onNames.Values);
            foreach (UndeletedLink left in deletion.Failed) log.Error("Rollback: {Failure}", deletion.LineFor(left));
        }
        catch (ShimFailure e)
        {
            log.Error("Rollback: could not delete the macvtaps this call created: {Error}", e.Message);
        }
    }
}
