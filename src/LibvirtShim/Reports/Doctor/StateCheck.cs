using LibvirtShim.Configuration;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using Serilog.Core;

namespace LibvirtShim.Reports.Doctor;

/// <summary>The state: readable, in agreement with the kernel, names held for definitions that are gone, names left. Changes nothing.</summary>
internal static class StateCheck
{
    public static void Run(ShimSettings settings, IReadOnlyList<Link> links, List<DoctorCheck> checks)
    {
        const string area = "state";
        if (!Directory.Exists(settings.StateDir))
        {
            checks.Add(DoctorCheck.Ok(area, $"{settings.StateDir} does not exist yet: the first hook call creates it by seeding"));
            return;
        }
        var scheme = new NameScheme(settings.NamePrefix, settings.Capacity);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        StateLoad load;
        List<NameRecord> definitionGone = [];
        try
        {
            using StateReadLease lease = ShimContext.StoreFor(settings).LockToRead();
            load = lease.Load(scheme);
            if (load.State is { } held) definitionGone = GoneDefinitions.Find(settings, lease, held, now);
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail(area, e.Message,
                e.Advice ?? "fix the state directory's owner and mode (root, not writable by group or others)"));
            return;
        }
        if (load.State is not { } state)
        {
            checks.Add(DoctorCheck.Warn(area, $"{settings.StateDir}: no usable state ({load.Problem})",
                "the next hook call rebuilds it by seeding; 'libvirt-shim seed' does it now"));
            return;
        }
        var statusFiles = DomainInventory.Read(settings.LibvirtRunDir, Logger.None);
        var problems = StateAudit.Compare(state, LinkMarker.For(settings), links, statusFiles.Keys.ToHashSet(), now,
                vcpusRun: StatusReport.VcpusRun(statusFiles))
            .Where(e => e.Problem is not null).ToList();
        checks.Add(problems.Count == 0
            ? DoctorCheck.Ok(area, $"{settings.StateDir}: {state.Count} names held, in agreement with the kernel")
            : DoctorCheck.Fail(area, $"{problems.Count} disagreement(s) between the state and the kernel: " +
                string.Join("; ", problems.Take(3).Select(p => $"{p.Name}: {p.Problem!.Value.Words().Text}")) + (problems.Count > 3 ? "; ..." : ""),
                "'libvirt-shim status' lists them with what to do; 'libvirt-shim seed' rebuilds the state from what runs"));
        if (definitionGone.Count > 0)
            checks.Add(DoctorCheck.Warn(area, $"{definitionGone.Count} name(s) held for definitions that are gone: " +
                string.Join(", ", definitionGone.Select(r => $"{r.Name} ({r.DomainName})")),
                AuditProblem.DefinitionGone.Words().Advice));
        double used = (double)state.HeldManagedNames / scheme.Capacity;
        if (used >= 0.9)
            checks.Add(DoctorCheck.Warn(area, $"{state.HeldManagedNames} of {scheme.Capacity} {scheme.Prefix}N names are held ({used:P0})",
                "raise Capacity before the names run out"));
    }
}
