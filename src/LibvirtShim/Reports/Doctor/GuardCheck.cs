using LibvirtShim.Configuration;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Session;
using Serilog.Core;

namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// Whether the guards can work here, when they are in use (the Guard setting, or a definition's guard=): a kernel with
/// nftables' netdev egress hook (5.16+) whose netdev tables can be read. Reads only: no table is made to find out.
/// </summary>
internal static class GuardCheck
{
    private static readonly Version EgressHook = new(5, 16);

    public static void Run(DoctorHost host, ShimSettings settings, List<DoctorCheck> checks)
    {
        const string area = "guards";
        int guardedNics = DomainInventory.Read(settings.LibvirtConfigDir, Logger.None).Values
            .Sum(d => d.OwnedNics.Count(n => n.GuardOr(GuardModes.Parse(settings.Guard)) != GuardMode.Off));
        if (GuardModes.Parse(settings.Guard) == GuardMode.Off && guardedNics == 0)
        {
            checks.Add(DoctorCheck.Ok(area, "not in use (Guard is off and no definition has guard=)"));
            return;
        }
        string release = HostFiles.ReadText(Path.Combine(host.Proc, "sys", "kernel", "osrelease"))?.Trim() ?? "";
        if (KernelVersion(release) is { } version && version < EgressHook)
        {
            checks.Add(DoctorCheck.Fail(area, $"kernel {release} has no nftables netdev egress hook (Linux 5.16 or later), "
                + $"and {guardedNics} NICs of the definitions are guarded: their starts fail",
                "boot a newer kernel, or set guard='off' on those NICs (and the Guard setting)"));
            return;
        }
        try
        {
            using GuardTables tables = host.OpenGuards();
            int ours = tables.Tables().Count(t => t.Name.StartsWith("libvirt-shim-", StringComparison.Ordinal));
            checks.Add(DoctorCheck.Ok(area, $"nftables netdev tables readable (kernel {release}); {ours} guard tables now; "
                + $"{guardedNics} NICs of the definitions guarded"));
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail(area, $"nftables cannot be read here: {e.Message}; {guardedNics} NICs of the definitions are guarded",
                "load nf_tables ('modprobe nf_tables'), or boot a kernel with CONFIG_NF_TABLES_NETDEV and CONFIG_NETFILTER_EGRESS"));
        }
    }

    /// <summary>"6.18.44-fc-v1300" as 6.18; null when the release does not start with two numbers.</summary>
    private static Version? KernelVersion(string release)
    {
        string[] parts = release.Split('.', 3);
        return parts.Length >= 2 && int.TryParse(parts[0], out int major)
            && int.TryParse(new string(parts[1].TakeWhile(char.IsAsciiDigit).ToArray()), out int minor)
            ? new Version(major, minor) : null;
    }
}
