using LibvirtShim.Configuration;
using LibvirtShim.Devices;
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
/// source MACs, no host address, up or down as <see cref="LinkStart"/> says, marked as the hook's), as <see cref="PreparePlanner"/>
/// plans it, and make the node libvirt opens for it (/dev/tapIFINDEX) name its device. A guarded NIC's guard is in place
/// before its link is up (<see cref="GuardLinks"/>, one transaction for all of them), whoever brings it up. All or nothing:
/// on any failure what this call created is deleted, its guard with it, and the state file is left as it was.
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
        ShimSession session, ShimSettings settings, LinkTable links, Func<GuardTables> guards, TapNodes taps, LinkMarker marker, ILogger log,
        long now, DomainDescription domain, LinkStart start, IReadOnlyList<LinkGuard>? wholeGuard = null)
    {
        PreparePlan plan = PreparePlanner.Plan(settings, links, marker, session.Lease, session.State, domain, now, start.Up);
        if (plan.Failure is { } failure) throw new ShimFailure(failure.Message);

        foreach (NameRecord stale in plan.StaleRecords)
        {
            log.Information("Name {Name}: dropping stale record of {Holder}", stale.Name, Describe.Holder(stale));
            session.State.Remove(stale.Name);
        }
        DeleteReplaced(links, taps, marker, domain, plan);
        BringUpLowerDevices(links, log, domain, plan);

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
            var made = plan.Nics.Where(n => n.Action == LinkAction.Keep).Select(n => (Nic: n, Index: n.Existing!.Value.Index))
                .Concat(toCreate.Select((n, i) => (Nic: n, outcomes[i].Created!.Value.Index))).ToList();
            var missing = made.Where(m => GiveLibvirtItsDevice(taps, log, domain, m.Nic.Nic, m.Index) == TapNodeChange.Created)
                .Select(m => taps.NodeOf(m.Index)).ToList();
            if (missing.Count > 0)
                log.Information("Made {Count} tap nodes that were missing (no devtmpfs or udev made them): {Nodes}", missing.Count,
                    string.Join(", ", missing));
            foreach ((NicPlan nic, int index) in made) session.State.Put(Record(domain, nic, index, session.State, hostGuard));
            session.Commit();
        }
        catch
        {
            if (touchesGuard) RestoreGuard(guards, marker, log, domain, guardedBefore);
            RollBack(links, taps, marker, log, domain);
            throw;
        }
        return toCreate.Count;
    }

    /// <summary>A lower device that is down is brought up before its macvtaps are made, as libvirt does for its direct NICs.</summary>
    private static void BringUpLowerDevices(LinkTable links, ILogger log, DomainDescription domain, PreparePlan plan)
    {
        var down = plan.Nics.Where(n => n.LowerLink is { IsUp: false }).DistinctBy(n => n.LowerLink!.Value.Index).ToList();
        if (down.Count == 0) return;
        IReadOnlyList<NetlinkError?> errors = links.SetUp(down.ConvertAll(n => n.LowerLink!.Value.Index));
        for (int i = 0; i < down.Count; i++)
        {
            if (errors[i] is { } error)
                throw new ShimFailure($"{Describe.Nic(domain, down[i].Nic)}: lower device {down[i].Lower} is down and cannot be brought up: " +
                    error.Describe());
            log.Information("Lower device {Lower} was down: brought it up, as libvirt does for its direct NICs", down[i].Lower);
        }
    }

    /// <summary>
    /// The node libvirt opens for the link (/dev/tapIFINDEX) made to name the link's device where it is missing or names
    /// another (<see cref="TapNodes.Ensure"/>); a replacement is logged here, the caller logs the nodes made in one line. A
    /// failure names the NIC.
    /// </summary>
    private static TapNodeChange GiveLibvirtItsDevice(TapNodes taps, ILogger log, DomainDescription domain, OwnedNic nic, int ifindex)
    {
        try
        {
            (TapNodeChange change, DeviceNumber device) = taps.Ensure(nic.Name, ifindex);
            if (change == TapNodeChange.Replaced)
                log.Warning("{Nic}: {Node} named another device (another network namespace's macvtap, or no device): replaced it with {Device}",
                    Describe.Nic(domain, nic), taps.NodeOf(ifindex), device);
            return change;
        }
        catch (ShimFailure e)
        {
            throw new ShimFailure($"{Describe.Nic(domain, nic)}: {e.Message}", e.Advice, e);
        }
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

    /// <summary>
    /// The domain's links of an earlier prepare that are not as asked go first (the plan has checked they carry its marks), with
    /// their nodes.
    /// </summary>
    private static void DeleteReplaced(LinkTable links, TapNodes taps, LinkMarker marker, DomainDescription domain, PreparePlan plan)
    {
        var replaced = plan.Nics.Where(n => n.Action == LinkAction.Replace).Select(n => n.Existing!.Value).ToList();
        if (replaced.Count > 0 && DeleteDomainLinks.Run(links, taps, marker, domain.Uuid, domain.Name, replaced).Failure is { } failure)
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
            nic.Nic.Mtu, nic.Nic.AllMulticast, nic.Nic.SourceMacs, up);

    /// <summary>
    /// Rollback, whatever failed (the kernel, the state write, a bug): the domain's links on its NICs' names go as at
    /// release. Its start is failing, so links kept from an earlier prepare go too; the state on disk was not changed. A
    /// failure here is logged, and the caller reports the first one.
    /// </summary>
    private static void RollBack(LinkTable links, TapNodes taps, LinkMarker marker, ILogger log, DomainDescription domain)
    {
        try
        {
            var onNames = DeleteDomainLinks.OnNames(links, domain.OwnedNics.Select(n => n.Name));
            LinkDeletion deletion = DeleteDomainLinks.Run(links, taps, marker, domain.Uuid, domain.Name, onNames.Values);
            foreach (UndeletedLink left in deletion.Failed) log.Error("Rollback: {Failure}", deletion.LineFor(left));
        }
        catch (ShimFailure e)
        {
            log.Error("Rollback: could not delete the macvtaps this call created: {Error}", e.Message);
        }
    }
}
