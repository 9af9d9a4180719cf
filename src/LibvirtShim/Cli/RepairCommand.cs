using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Session;

namespace LibvirtShim.Cli;

/// <summary><c>repair [DOMAIN]</c>: the links of running guests lost with their uplink made again and their NICs plugged in again.</summary>
internal static class RepairCommand
{
    public static int Run(string? domain, int waitSeconds, string? uri, IReadOnlyList<string> settingOverrides, TextWriter output)
    {
        if (waitSeconds < 0) throw CliRun.Usage("repair", $"--wait {waitSeconds} is not a number of seconds (0 or more)");
        using ShimContext context = CliRun.OpenContext(settingOverrides, "repair", domain);
        List<string> domains = domain is not null ? [domain] : RepairLinks.DomainsWithLostLinks(context);
        if (domains.Count == 0) output.WriteLine("no running guest has lost a link: nothing to repair");
        int failed = 0;
        foreach (string name in domains)
        {
            try
            {
                using LibvirtGuest guest = LibvirtGuest.Open(uri, name);
                List<RepairedNic> repaired = RepairLinks.Run(context, guest, TimeSpan.FromSeconds(waitSeconds));
                if (repaired.Count == 0) output.WriteLine($"domain '{name}': every link is there and plugged in: nothing to repair");
                foreach (RepairedNic nic in repaired)
                    output.WriteLine($"domain '{name}': NIC {nic.Nic.Mac} ({nic.Nic.Name}): " +
                        (nic.Recreated ? "link made again, NIC plugged in again" : "NIC plugged in again"));
            }
            catch (ShimFailure e) when (domain is null)
            {
                // Without a domain every one is tried; each failure is a line of its own, and the exit status says one failed.
                Console.Error.WriteLine("libvirt-shim: " + ShimFailure.LineFor(e, name));
                failed++;
            }
        }
        if (failed > 0) throw ShimFailure.WithoutDomain($"repair failed for {failed} of {domains.Count} domains", "the lines above say why");
        return 0;
    }
}
