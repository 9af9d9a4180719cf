using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.State;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using Serilog;
using LibvirtShim.Session;
using LibvirtShim.Messages;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>prepare begin</c>: claim each owned NIC's name and create its macvtap (lower device, MAC, mode, MTU, allmulticast,
/// no host address, up or down as <see cref="LinkStart"/> says, marked as the hook's), as <see cref="PreparePlanner"/> plans
/// it. All or nothing: on any failure what this call created is deleted and the state file is left as it was.
/// </summary>
internal static class PrepareLinks
{
    /// <summary>
    /// Returns how many links were created (links already there from an earlier prepare are kept). The state is
    /// written once, after the links exist: a crash before that leaves links carrying the domain's marks and no
    /// record of them, which the domain's release (its XML declares the NICs) and seeding find by those marks.
    /// </summary>
    public static int Run(
        ShimSession session, ShimSettings settings, LinkTable links, LinkMarker marker, ILogger log, long now, DomainDescription domain,
        LinkStart start)
    {
        PreparePlan plan = PreparePlanner.Plan(settings, links, marker, session.State, domain, now, start.Up);
        if (plan.Failure is { } failure) throw new ShimFailure(failure.Message);

        foreach (NameRecord stale in plan.StaleRecords)
        {
            log.Information("Name {Name}: dropping stale record of {Holder}", stale.Name, Describe.Holder(stale));
            session.State.Remove(stale.Name);
        }
        DeleteReplaced(links, domain, plan);

        var toCreate = plan.Nics.Where(n => n.Action != LinkAction.Keep).ToList();
        try
        {
            IReadOnlyList<LinkOutcome> outcomes = links.CreateMacvtaps(toCreate.Select(n => Request(marker, domain, n, start.Up)).ToList());
            int failed = outcomes.ToList().FindIndex(o => o.Error is not null);
            if (failed >= 0)
                throw new ShimFailure($"{Describe.Nic(domain, toCreate[failed].Nic)}: cannot create macvtap on {toCreate[failed].Lower}: " +
                    $"{outcomes[failed].Error!.Value.Describe()}");
            foreach (NicPlan nic in plan.Nics.Where(n => n.Action == LinkAction.Keep))
                session.State.Put(Record(domain, nic, nic.Existing!.Value.Index, session.State));
            for (int i = 0; i < toCreate.Count; i++)
                session.State.Put(Record(domain, toCreate[i], outcomes[i].Created!.Value.Index, session.State));
            session.Commit();
        }
        catch
        {
            RollBack(links, marker, log, domain);
            throw;
        }
        return toCreate.Count;
    }

    private static void DeleteReplaced(LinkTable links, DomainDescription domain, PreparePlan plan)
    {
        var replaced = plan.Nics.Where(n => n.Action == LinkAction.Replace).Select(n => n.Existing!.Value.Index).ToList();
        if (replaced.Count == 0) return;
        if (links.Delete(replaced).FirstOrDefault(e => e is not null) is { } error)
            throw new ShimFailure($"{Describe.Domain(domain)}: cannot replace its earlier macvtap: {error.Describe()}");
    }

    private static NameRecord Record(DomainDescription domain, NicPlan nic, int ifindex, NameState state)
    {
        NameRecord? before = state.Find(nic.Nic.Name);
        bool kept = NameRecord.IsInDefinitionOf(before, domain.Uuid);
        return new NameRecord(nic.Nic.Name, Holding.Created, domain.Uuid, domain.Name, nic.Nic.Mac, nic.Lower!, nic.Nic.Mode,
            ifindex, ExpiresAt: kept ? before!.ExpiresAt : 0, InDefinitionToo: kept);
    }

    private static MacvtapRequest Request(LinkMarker marker, DomainDescription domain, NicPlan nic, bool up) =>
        new(nic.Nic.Name, nic.LowerLink!.Value.Index, nic.Nic.Mac, nic.Nic.Mode, marker.Group(domain.Uuid), marker.Alias(domain.Uuid),
            nic.Nic.Mtu, nic.Nic.AllMulticast, up);

    /// <summary>
    /// Rollback, whatever failed (the kernel, the state write, a bug): the domain's links go as at release, in one
    /// deletion of its group when it holds several. Its start is failing, so links kept from an earlier prepare go too; the state on disk
    /// was not changed. A failure here is logged, and the caller reports the first one.
    /// </summary>
    private static void RollBack(LinkTable links, LinkMarker marker, ILogger log, DomainDescription domain)
    {
        try
        {
            var names = domain.OwnedNics.Select(n => n.Name).Where(Net.InterfaceName.IsValid).Distinct(StringComparer.Ordinal).ToList();
            var ours = ReleaseLinks.LinksOnTheirNames(links, names).Values.Where(l => marker.IsOwnedBy(l, domain.Uuid)).ToList();
            foreach (UndeletedLink left in DeleteDomainLinks.Run(links, marker, domain.Uuid, ours).Failed)
                log.Error("Rollback: could not delete macvtap {Name} (ifindex {Ifindex}): {Error}", left.Link.Name, left.Link.Index,
                    left.Error.Describe());
        }
        catch (ShimFailure e)
        {
            log.Error("Rollback: could not delete the macvtaps this call created: {Error}", e.Message);
        }
    }
}
