using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>Something that stops <c>prepare</c>: the line the hook would print, and what the administrator can do.</summary>
internal sealed record PreviewProblem(string Message, string Advice);

/// <summary>What <c>prepare</c> would do with one owned NIC.</summary>
internal sealed record NicPreview(OwnedNic Nic, string? Lower, string LowerNote, string Action, List<PreviewProblem> Problems, List<string> Warnings);

/// <summary>
/// What <c>prepare begin</c> would do for a domain on this host. <see cref="Failure"/> is the message prepare would
/// fail with (null when it would succeed), found by the same checks in the same order as <see cref="PrepareLinks"/>;
/// <see cref="LikelyKernelFailure"/> is what the kernel would most likely refuse when the links are created.
/// </summary>
internal sealed record PreparePreview(
    DomainDescription Domain, string? StateNote, List<NicPreview> Nics, PreviewProblem? Failure, PreviewProblem? LikelyKernelFailure)
{
    public bool WouldSucceed => Failure is null && LikelyKernelFailure is null;
}

/// <summary>
/// A dry run of <see cref="PrepareLinks"/>: the same checks against the state and the kernel's links, changing
/// nothing (no lock is kept, nothing is written, no link is touched; a missing state is seeded in memory only).
/// </summary>
internal static class PreparePlanner
{
    private const string NameHeldAdvice =
        "give this NIC another target dev (a free name: 'libvirt-shim status' lists the names held), or stop the domain that holds it";

    /// <summary>Gathers the facts (state read under the lock, one link dump) and plans.</summary>
    public static PreparePreview Plan(ShimContext context, DomainDescription domain)
    {
        StateLoad load = StateLoad.Missing();
        IReadOnlyList<Link> links;
        if (Directory.Exists(context.Settings.StateDir))
        {
            using StateLease lease = new StateStore(context.Settings.StateDir, TimeSpan.FromSeconds(Math.Min(5, context.Settings.LockTimeoutSeconds))).Lock();
            load = lease.Load(context.Scheme);
            links = context.Links.Dump();
        }
        else
        {
            links = context.Links.Dump();
        }

        NameState state;
        string? stateNote = null;
        if (load.State is { } loaded)
        {
            state = loaded;
        }
        else
        {
            var running = DomainInventory.Read(context.Settings.LibvirtRunDir, context.Log);
            var defined = DomainInventory.Read(context.Settings.LibvirtConfigDir, context.Log);
            state = Seeder.Plan(context.Scheme, context.Marker, null, running, defined, links, context.Now).State;
            stateNote = $"the state is not usable ({load.Problem}): prepare first rebuilds it by seeding; this plan uses the state seeding would build now";
        }
        return Plan(context.Settings, context.Scheme, context.Marker, state, links, domain, context.Now,
            (name, uuid) => DomainInventory.ReadDefinition(context.Settings.LibvirtConfigDir, name, uuid)) with { StateNote = stateNote };
    }

    /// <summary>The plan from already gathered facts.</summary>
    internal static PreparePreview Plan(
        ShimSettings settings, NameScheme scheme, LinkMarker marker, NameState state, IReadOnlyList<Link> links, DomainDescription domain,
        long now, Func<string, Guid, DomainDescription?> readDefinition)
    {
        var byName = new Dictionary<string, Link>(StringComparer.Ordinal);
        foreach (Link link in links) byName.TryAdd(link.Name, link);
        var phases = new List<PreviewProblem>?[6];
        void Fail(int phase, NicPreview nic, PreviewProblem problem)
        {
            nic.Problems.Add(problem);
            (phases[phase] ??= []).Add(problem);
        }

        var nics = new List<NicPreview>();
        // 1. Lower devices: Networks, Uplinks, AllowedLowerDevices (LowerDevices.Resolve, as prepare calls it).
        foreach (OwnedNic nic in domain.OwnedNics)
        {
            string? lower = null;
            PreviewProblem? problem = null;
            try
            {
                lower = LowerDevices.Resolve(settings, domain, nic);
            }
            catch (ShimException e)
            {
                problem = new PreviewProblem(e.Message, nic.Network is not null && !settings.Networks.ContainsKey(nic.Network)
                    ? $"map network '{nic.Network}' to a device of this host in the Networks setting"
                    : "add the device to AllowedLowerDevices, or map the NIC to an allowed device (Uplinks, Networks)");
            }
            var preview = new NicPreview(nic, lower, LowerNote(settings, nic), "", [], []);
            if (problem is not null) Fail(0, preview, problem);
            nics.Add(preview);
        }
        // 2. Names: prefix and range.
        foreach (NicPreview p in nics)
        {
            if (!scheme.IsManaged(p.Nic.Name))
                Fail(1, p, new PreviewProblem(
                    $"{Describe.Nic(domain, p.Nic)}: target dev is not a libvirt-shim name ({scheme.Prefix}N with N below {scheme.Capacity})",
                    $"name it {scheme.Prefix}N (N below {scheme.Capacity}); 'libvirt-shim adopt' assigns free names"));
        }
        // 3. One passthru macvtap per lower device.
        foreach (var twice in nics.Where(p => p.Lower is not null && p.Nic.Mode == MacvtapMode.Passthru).GroupBy(p => p.Lower!).Where(g => g.Count() > 1))
        {
            foreach (NicPreview p in twice.Skip(1))
                Fail(2, p, new PreviewProblem(
                    $"{Describe.Nic(domain, p.Nic)}: passthru mode requested twice on lower device {twice.Key}; a device can pass through to one macvtap only",
                    "give the other NICs another mode or another lower device"));
        }
        // 4. Reservations and definitions of other domains.
        foreach (NicPreview p in nics)
        {
            NameRecord? held = state.Find(p.Nic.Name);
            if (held is null || held.IsLink || held.Domain == domain.Uuid) continue;
            if (IsStale(held, now, readDefinition))
                p.Warnings.Add($"a stale record of {Describe.Holder(held)} holds {p.Nic.Name}: prepare drops it");
            else
                Fail(3, p, new PreviewProblem($"{Describe.Nic(domain, p.Nic)}: name is held by {Describe.Holder(held)}", NameHeldAdvice));
        }
        // 5. Lower devices exist.
        foreach (NicPreview p in nics.Where(p => p.Lower is not null))
        {
            if (!byName.ContainsKey(p.Lower!))
                Fail(4, p, new PreviewProblem($"{Describe.Nic(domain, p.Nic)}: lower device {p.Lower} does not exist on this host",
                    $"create {p.Lower}, or map the NIC's lower device to one of this host's in Uplinks (or Networks)"));
        }
        // 6. Links already on the names.
        var actions = new Dictionary<NicPreview, string>();
        foreach (NicPreview p in nics)
        {
            if (!byName.TryGetValue(p.Nic.Name, out Link link))
            {
                actions[p] = "create the macvtap";
                continue;
            }
            if (!marker.IsOwnedBy(link, domain.Uuid))
            {
                Fail(5, p, new PreviewProblem($"{Describe.Nic(domain, p.Nic)}: name is held by {HolderOf(marker, link, state)}",
                    marker.Owner(link) is null && state.Find(link.Name) is not { Holding: Holding.Libvirt }
                        ? $"delete that link if nobody uses it ('ip link del {link.Name}'), or give this NIC another target dev"
                        : NameHeldAdvice));
                continue;
            }
            bool sameLower = p.Lower is not null && byName.TryGetValue(p.Lower, out Link lowerLink) && link.LowerIndex == lowerLink.Index;
            bool sameMac = link.Mac == p.Nic.Mac || p.Nic.Mode == MacvtapMode.Passthru;
            actions[p] = sameMac && sameLower && link.Mode == p.Nic.Mode && link.IsUp && link.Alias is not null
                ? $"keep its macvtap from an earlier prepare (ifindex {link.Index})"
                : $"replace its macvtap from an earlier prepare (ifindex {link.Index}: other MAC, lower device or mode, down, or unlabelled)";
        }

        PreviewProblem? failure = phases.FirstOrDefault(p => p is not null)?[0];
        PreviewProblem? kernel = null;
        foreach (NicPreview p in nics)
        {
            if (p.Lower is null || !byName.TryGetValue(p.Lower, out Link lower)) continue;
            if (!lower.IsUp) p.Warnings.Add($"lower device {p.Lower} is down: the guest's NIC has no carrier until 'ip link set {p.Lower} up'");
            if (!actions.TryGetValue(p, out string? action) || action.StartsWith("keep", StringComparison.Ordinal)) continue;
            var replaced = byName.TryGetValue(p.Nic.Name, out Link own) ? own.Index : 0;
            var siblings = links.Where(l => l.LowerIndex == lower.Index && l.Index != replaced && l.Kind is "macvtap" or "macvlan").ToList();
            string? refusal = null;
            if (p.Nic.Mode != MacvtapMode.Passthru && (lower.Mac == p.Nic.Mac || siblings.Any(l => l.Mac == p.Nic.Mac)))
            {
                string holder = lower.Mac == p.Nic.Mac ? p.Lower : siblings.First(l => l.Mac == p.Nic.Mac).Name;
                refusal = $"Address already in use: {holder} on {p.Lower} already has MAC {p.Nic.Mac}";
            }
            else if (p.Nic.Mode == MacvtapMode.Passthru && siblings.Count > 0)
                refusal = $"Device or resource busy: passthru needs {p.Lower} to itself, and {siblings[0].Name} is on it";
            else if (p.Nic.Mode != MacvtapMode.Passthru && siblings.Any(l => l.Mode == MacvtapMode.Passthru))
                refusal = $"Device or resource busy: {siblings.First(l => l.Mode == MacvtapMode.Passthru).Name} passes {p.Lower} through";
            if (refusal is null) continue;
            var problem = new PreviewProblem($"{Describe.Nic(domain, p.Nic)}: cannot create macvtap on {p.Lower}: {refusal}",
                "the kernel would refuse this macvtap: change the NIC's MAC or mode, or free the lower device");
            p.Warnings.Add($"the kernel would most likely refuse it ({refusal})");
            kernel ??= problem;
        }
        var result = nics.Select(p => p with { Action = p.Problems.Count > 0 ? "fails" : actions.GetValueOrDefault(p, "create the macvtap") }).ToList();
        return new PreparePreview(domain, null, result, failure, failure is null ? kernel : null);
    }

    private static string LowerNote(ShimSettings settings, OwnedNic nic)
    {
        if (nic.Network is { } network)
            return settings.Networks.TryGetValue(network, out string? device) ? $"network {network} -> {device} (Networks)" : $"network {network} (not in Networks)";
        return settings.Uplinks.TryGetValue(nic.Source!, out string? local) ? $"{nic.Source} -> {local} (Uplinks)" : nic.Source!;
    }

    /// <summary>As <see cref="PrepareLinks"/> decides: an expired reservation, or a definition that no longer uses the name.</summary>
    private static bool IsStale(NameRecord held, long now, Func<string, Guid, DomainDescription?> readDefinition) => held.Holding switch
    {
        Holding.Reserved => held.ExpiresAt <= now,
        Holding.Defined => held.ExpiresAt <= now && readDefinition(held.DomainName, held.Domain)?.OwnedNics.Any(n => n.Name == held.Name) != true,
        _ => false,
    };

    /// <summary>Who holds a link on a name, in the words prepare uses.</summary>
    private static string HolderOf(LinkMarker marker, Link link, NameState state)
    {
        NameRecord? record = state.Find(link.Name);
        if (marker.Owner(link) is { } owner)
            return record?.Domain == owner ? Describe.Holder(record) : $"a link libvirt-shim created for domain {owner}";
        return record is { Holding: Holding.Libvirt }
            ? Describe.Holder(record)
            : $"a link libvirt-shim did not create (ifindex {link.Index}, kind {link.Kind ?? "unknown"})";
    }
}
