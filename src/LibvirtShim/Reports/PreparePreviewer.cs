using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>Runs prepare's planner against the state and one link dump, changing nothing, and adds advice and the kernel's likely answer.</summary>
internal static class PreparePreviewer
{
    private const string NameHeldAdvice =
        "give this NIC another target dev (a free name: 'libvirt-shim status' lists the names held), or stop the domain that holds it";

    /// <summary>
    /// Reads the state under the lock to read (a missing state is seeded in memory only) and the kernel's links, then
    /// previews, changing nothing.
    /// </summary>
    public static PreparePreview Preview(ShimContext context, DomainDescription domain)
    {
        using StateReadLease lease = context.Store.LockToRead();
        StateLoad load = lease.Load(context.Scheme);
        IReadOnlyList<Link> links = context.Links.Dump();

        string? stateNote = null;
        NameState state;
        if (load.State is { } loaded)
        {
            state = loaded;
        }
        else
        {
            var running = DomainInventory.Read(context.Settings.LibvirtRunDir, context.Log);
            var defined = DomainInventory.Read(context.Settings.LibvirtConfigDir, context.Log);
            state = SeedState.Plan(context.Scheme, context.Marker, null, running, defined, links, context.Now,
                lowerOf: nic => LowerDeviceMapping.Local(context.Settings, nic.Source, nic.Network) ?? "").State;
            stateNote = $"the state is not usable ({load.Problem}): prepare first rebuilds it by seeding; " +
                "this plan uses the state seeding would build now";
        }
        PreparePreview preview = Preview(context.Settings, context.Scheme, context.Marker, state, links, domain, context.Now,
            held => GoneDefinitions.Frees(context.Settings, lease, held, context.Now));
        return preview with { StateNote = stateNote };
    }

    /// <summary>The preview from gathered facts.</summary>
    internal static PreparePreview Preview(
        ShimSettings settings, NameScheme scheme, LinkMarker marker, NameState state, IReadOnlyList<Link> links, DomainDescription domain,
        long now, Func<NameRecord, bool> definitionGone)
    {
        var byName = new Dictionary<string, Link>(StringComparer.Ordinal);
        foreach (Link link in links) byName.TryAdd(link.Name, link);
        var byIndex = new Dictionary<int, Link>();
        foreach (Link link in links) byIndex.TryAdd(link.Index, link);
        // As prepare would now: a link kept down for the listener is kept while one runs.
        bool linksUp = LinkStart.BeforeTheVcpus(settings.StateDir).Up;
        PreparePlan plan = PreparePlanner.Plan(LowerDevices.ResolveAll(settings, domain), scheme, marker, state, byName, byIndex, domain, now,
            definitionGone, linksUp);

        PreviewProblem? failure = plan.Failure is { } f ? new PreviewProblem(f.Message, Advice(f, settings, scheme, marker, byName, state)) : null;
        var nics = new List<NicPreview>();
        PreviewProblem? kernel = null;
        foreach (NicPlan nic in plan.Nics)
        {
            var problems = plan.Problems.Where(p => p.Nic == nic.Nic)
                .Select(p => new PreviewProblem(p.Message, Advice(p, settings, scheme, marker, byName, state))).ToList();
            var warnings = plan.StaleRecords.Where(r => r.Name == nic.Nic.Name)
                .Select(r => $"a stale record of {Describe.Holder(r)} holds {r.Name}: prepare drops it").ToList();
            GuardMode guard = nic.Nic.GuardOr(GuardModes.Parse(settings.Guard));
            if (guard == GuardMode.Ip && nic.Nic.Addresses.Count == 0)
                warnings.Add("guard='ip' lists no address in ips=: the guest can send only from its link-local address and as a DHCP client");
            if (nic.LowerLink is { IsUp: false })
                warnings.Add($"lower device {nic.Lower} is down: prepare brings it up, as libvirt does for its direct NICs");
            if (problems.Count == 0 && nic.Action != LinkAction.Keep && KernelRefusal(nic, links) is { } refusal)
            {
                warnings.Add($"the kernel would most likely refuse it ({refusal})");
                kernel ??= new PreviewProblem($"{Describe.Nic(domain, nic.Nic)}: cannot create macvtap on {nic.Lower}: {refusal}",
                    "the kernel would refuse this macvtap: change the NIC's MAC or mode, or free the lower device");
            }
            nics.Add(new NicPreview(nic.Nic, nic.Lower, LowerNote(settings, nic.Nic), nic.Action, nic.Existing?.Index ?? 0, problems, warnings,
                nic.LowerLink?.Mtu ?? 0, guard, nic.Nic.Guard is null));
        }
        return new PreparePreview(domain, null, nics, failure, failure is null ? kernel : null);
    }

    private static string Advice(PrepareProblem problem, ShimSettings settings, NameScheme scheme, LinkMarker marker,
        Dictionary<string, Link> links, NameState state)
    {
        OwnedNic nic = problem.Nic;
        return problem.Check switch
        {
            PrepareCheck.LowerDevice when nic.Network is not null && !settings.Networks.ContainsKey(nic.Network) =>
                $"map network '{nic.Network}' to a device of this host in the Networks setting",
            PrepareCheck.LowerDevice => "add the device to AllowedLowerDevices, or map the NIC to an allowed device (Uplinks, Networks)",
            PrepareCheck.Name => $"name it {scheme.Prefix}N (N below {scheme.Capacity}); 'libvirt-shim adopt' assigns free names",
            PrepareCheck.Passthru => "give the other NICs another mode or another lower device",
            PrepareCheck.LowerExists => "create the device, or map the NIC's lower device to one of this host's in Uplinks (or Networks)",
            PrepareCheck.LowerUnfit => $"{problem.Fix} (the NIC's <shim:link source=...>, or Uplinks or Networks on this host)",
            PrepareCheck.Mtu =>
                $"raise the lower device's MTU ('ip link set DEVICE mtu {nic.Mtu}'), or ask for less with mtu= on the NIC's <shim:link>",
            PrepareCheck.HeldLink when links.TryGetValue(nic.Name, out Link link) && marker.Owner(link) is null
                && state.Find(link.Name) is not { Holding: Holding.Libvirt } =>
                $"delete that link if nobody uses it ('ip link del {link.Name}'), or give this NIC another target dev",
            _ => NameHeldAdvice,
        };
    }

    /// <summary>What the kernel refuses when the link is created: a MAC already on the lower device, passthru beside other macvtaps.</summary>
    private static string? KernelRefusal(NicPlan nic, IReadOnlyList<Link> links)
    {
        if (nic.LowerLink is not { } lower) return null;
        int replaced = nic.Existing?.Index ?? 0;
        var siblings = links.Where(l => l.LowerIndex == lower.Index && l.Index != replaced && l.Kind is "macvtap" or "macvlan").ToList();
        if (nic.Nic.Mode != MacvtapMode.Passthru && (lower.Mac == nic.Nic.Mac || siblings.Any(l => l.Mac == nic.Nic.Mac)))
        {
            string holder = lower.Mac == nic.Nic.Mac ? lower.Name : siblings.First(l => l.Mac == nic.Nic.Mac).Name;
            return $"Address already in use: {holder} on {lower.Name} already has MAC {nic.Nic.Mac}";
        }
        if (nic.Nic.Mode == MacvtapMode.Passthru && siblings.Count > 0)
            return $"Device or resource busy: passthru needs {lower.Name} to itself, and {siblings[0].Name} is on it";
        if (nic.Nic.Mode != MacvtapMode.Passthru && siblings.FirstOrDefault(l => l.Mode == MacvtapMode.Passthru) is { Name: not null } passthru)
            return $"Device or resource busy: {passthru.Name} passes {lower.Name} through";
        return null;
    }

    private static string LowerNote(ShimSettings settings, OwnedNic nic)
    {
        if (nic.Network is { } network)
            return settings.Networks.TryGetValue(network, out string? device)
                ? $"network {network} -> {device} (Networks)" : $"network {network} (not in Networks)";
        return settings.Uplinks.TryGetValue(nic.Source!, out string? local) ? $"{nic.Source} -> {local} (Uplinks)" : nic.Source!;
    }
}
