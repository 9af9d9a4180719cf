using LibvirtShim.Domain;
using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>prepare begin</c>: claim each owned NIC's name and create its macvtap (lower device, MAC, mode, up, marked as
/// the hook's). All or nothing: on any failure what this call created is deleted and the state is put back.
/// </summary>
internal static class PrepareLinks
{
    private sealed record Plan(OwnedNic Nic, string Lower)
    {
        public int LowerIndex { get; set; }
        public bool Reuse { get; set; }
        public int ReusedIndex { get; set; }
    }

    /// <summary>Returns how many links were created (links already there from an earlier prepare are kept).</summary>
    public static int Run(ShimSession session, DomainDescription domain)
    {
        ShimContext context = session.Context;
        List<Plan> plans = domain.OwnedNics.Select(nic => new Plan(nic, LowerDevices.Resolve(context.Settings, domain, nic))).ToList();
        CheckNames(context, domain, plans);
        CheckPassthru(domain, plans);

        var undo = new StateUndo(session.State);
        ClaimRecords(session, domain, plans, undo);
        ResolveLowerIndexes(context, domain, plans);
        ReconcileExistingLinks(context, session.State, domain, plans);

        var toCreate = plans.Where(p => !p.Reuse).ToList();
        foreach (Plan plan in plans) undo.Put(Record(domain, plan, plan.ReusedIndex, session.State));
        session.Commit();

        IReadOnlyList<LinkOutcome> outcomes = context.Links.CreateMacvtaps(toCreate.Select(p => Request(context.Marker, domain, p)).ToList());
        int failed = outcomes.ToList().FindIndex(o => o.Error is not null);
        if (failed >= 0)
        {
            DeleteCreated(context, domain, toCreate);
            undo.Rollback();
            session.Commit();
            throw new ShimException($"{Describe.Nic(domain, toCreate[failed].Nic)}: cannot create macvtap on {toCreate[failed].Lower}: {outcomes[failed].Error!.Value.Describe()}");
        }
        for (int i = 0; i < toCreate.Count; i++)
            session.State.Put(Record(domain, toCreate[i], outcomes[i].Created!.Value.Index, session.State));
        session.Commit();
        return toCreate.Count;
    }

    private static void CheckNames(ShimContext context, DomainDescription domain, List<Plan> plans)
    {
        foreach (Plan plan in plans)
        {
            if (!context.Scheme.IsManaged(plan.Nic.Name))
                throw new ShimException($"{Describe.Nic(domain, plan.Nic)}: target dev is not a libvirt-shim name ({context.Scheme.Prefix}N with N below {context.Scheme.Capacity})");
        }
    }

    private static void CheckPassthru(DomainDescription domain, List<Plan> plans)
    {
        var twice = plans.Where(p => p.Nic.Mode == MacvtapMode.Passthru).GroupBy(p => p.Lower).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new ShimException($"{Describe.Nic(domain, twice.Skip(1).First().Nic)}: passthru mode requested twice on lower device {twice.Key}; a device can pass through to one macvtap only");
    }

    /// <summary>
    /// Reservations and definitions of other domains are checked here; names held by links (created, libvirt's,
    /// foreign) are checked against the kernel, which knows whether the link is still there.
    /// </summary>
    private static void ClaimRecords(ShimSession session, DomainDescription domain, List<Plan> plans, StateUndo undo)
    {
        foreach (Plan plan in plans)
        {
            NameRecord? held = session.State.Find(plan.Nic.Name);
            if (held is null || held.IsLink || held.Domain == domain.Uuid) continue;
            if (!IsStale(session.Context, held))
                throw new ShimException($"{Describe.Nic(domain, plan.Nic)}: name is held by {Describe.Holder(held)}");
            session.Context.Log.Information("Name {Name}: dropping stale record of {Holder}", held.Name, Describe.Holder(held));
            undo.Remove(held.Name);
        }
    }

    /// <summary>A record of another domain that no longer holds anything: an expired reservation, or a definition that no longer uses the name.</summary>
    private static bool IsStale(ShimContext context, NameRecord held) => held.Holding switch
    {
        Holding.Reserved => held.ExpiresAt <= context.Now,
        Holding.Defined => held.ExpiresAt <= context.Now
            && DomainInventory.ReadDefinition(context.Settings.LibvirtConfigDir, held.DomainName, held.Domain)?.OwnedNics.Any(n => n.Name == held.Name) != true,
        _ => false,
    };

    private static void ResolveLowerIndexes(ShimContext context, DomainDescription domain, List<Plan> plans)
    {
        var names = plans.Select(p => p.Lower).Distinct(StringComparer.Ordinal).ToList();
        IReadOnlyList<Link?> found = context.Links.Find(names);
        var indexes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (found[i] is { } link) indexes[names[i]] = link.Index;
        }
        foreach (Plan plan in plans)
        {
            if (!indexes.TryGetValue(plan.Lower, out int index))
                throw new ShimException($"{Describe.Nic(domain, plan.Nic)}: lower device {plan.Lower} does not exist on this host");
            plan.LowerIndex = index;
        }
    }

    /// <summary>
    /// Links already on the names: the domain's own from an earlier prepare are kept when they match and replaced when
    /// not (or when that prepare died before it set their alias); anyone else's is an error. Nothing is deleted
    /// before every name has been checked. A link kept is recorded with its ifindex, whatever the earlier prepare got to record.
    /// </summary>
    private static void ReconcileExistingLinks(ShimContext context, NameState state, DomainDescription domain, List<Plan> plans)
    {
        IReadOnlyList<Link?> existing = context.Links.Find(plans.Select(p => p.Nic.Name).ToList());
        var replace = new List<int>();
        for (int i = 0; i < plans.Count; i++)
        {
            if (existing[i] is not { } link) continue;
            Plan plan = plans[i];
            if (!context.Marker.IsOwnedBy(link, domain.Uuid))
            {
                throw new ShimException($"{Describe.Nic(domain, plan.Nic)}: name is held by {HolderOf(context.Marker, link, state)}");
            }
            bool sameMac = link.Mac == plan.Nic.Mac || plan.Nic.Mode == MacvtapMode.Passthru;
            plan.Reuse = sameMac && link.LowerIndex == plan.LowerIndex && link.Mode == plan.Nic.Mode && link.IsUp && link.Alias is not null;
            if (plan.Reuse) plan.ReusedIndex = link.Index;
            else replace.Add(link.Index);
        }
        if (replace.Count == 0) return;
        IReadOnlyList<NetlinkError?> errors = context.Links.Delete(replace);
        if (errors.FirstOrDefault(e => e is not null) is { } error)
            throw new ShimException($"{Describe.Domain(domain)}: cannot replace its earlier macvtap: {error.Describe()}");
    }

    private static string HolderOf(LinkMarker marker, Link link, NameState state)
    {
        NameRecord? record = state.Find(link.Name);
        if (marker.Owner(link) is { } owner)
            return record?.Domain == owner ? Describe.Holder(record) : $"a link libvirt-shim created for domain {owner}";
        return record is { Holding: Holding.Libvirt }
            ? Describe.Holder(record)
            : $"a link libvirt-shim did not create (ifindex {link.Index}, kind {link.Kind ?? "unknown"})";
    }

    private static NameRecord Record(DomainDescription domain, Plan plan, int ifindex, NameState state)
    {
        NameRecord? before = state.Find(plan.Nic.Name);
        bool kept = before is not null && before.Domain == domain.Uuid && (before.Holding == Holding.Defined || before.KeptByDefinition);
        return new NameRecord(plan.Nic.Name, Holding.Created, domain.Uuid, domain.Name, plan.Nic.Mac, plan.Lower, plan.Nic.Mode,
            ifindex, ExpiresAt: kept ? before!.ExpiresAt : 0, KeptByDefinition: kept);
    }

    private static MacvtapRequest Request(LinkMarker marker, DomainDescription domain, Plan plan) =>
        new(plan.Nic.Name, plan.LowerIndex, plan.Nic.Mac, plan.Nic.Mode, marker.Group(domain.Uuid), marker.Alias(domain.Uuid));

    /// <summary>
    /// Rollback: whatever now sits on the names this call was creating and carries the domain's marks (including a link
    /// whose alias could not be set) is this call's, and goes.
    /// </summary>
    private static void DeleteCreated(ShimContext context, DomainDescription domain, List<Plan> attempted)
    {
        IReadOnlyList<Link?> found = context.Links.Find(attempted.Select(p => p.Nic.Name).ToList());
        var created = found.Where(l => l is { } link && context.Marker.IsOwnedBy(link, domain.Uuid)).Select(l => l!.Value.Index).ToList();
        if (created.Count == 0) return;
        foreach (NetlinkError? error in context.Links.Delete(created).Where(e => e is not null))
            context.Log.Error("Rollback: could not delete a macvtap this call created: {Error}", error!.Value.Describe());
    }
}
