using ConsoleAppFramework;
using LibvirtShim.Hook;
using LibvirtShim.Lifecycle;

namespace LibvirtShim.Cli;

internal sealed class ShimCommands
{
    /// <summary>Run one hook call as libvirt would (the domain XML on stdin). Example: libvirt-shim hook web1 prepare begin - &lt; web1.xml</summary>
    /// <param name="domain">Domain name.</param>
    /// <param name="operation">prepare, start, started, stopped, release, migrate, restore, reconnect.</param>
    /// <param name="subOperation">begin or end.</param>
    /// <param name="extra">Extra argument, "-" when none.</param>
    [Command("hook")]
    public int Hook(ConsoleAppContext context, [Argument] string domain, [Argument] string operation, [Argument] string subOperation = "-", [Argument] string extra = "-") =>
        HookEntry.Run([domain, operation, subOperation, extra], HookHost.ForSystem(context.EscapedArguments.ToArray()));

    /// <summary>Show every name held, by lower device, with its domain, MAC, mode and link state, and what disagrees with the kernel. Example: libvirt-shim status --json</summary>
    /// <param name="json">Print JSON for tools instead of a table.</param>
    [Command("status")]
    public int Status(ConsoleAppContext context, bool json = false) =>
        CliRun.Guarded(() => StatusCommand.Run(context.EscapedArguments.ToArray(), json, Console.Out));

    /// <summary>Rebuild the state from running guests' status XML, persistent definitions and the kernel's links. Example: libvirt-shim seed</summary>
    [Command("seed")]
    public int Seed(ConsoleAppContext context) =>
        CliRun.Guarded(() =>
        {
            using ShimContext shim = CliRun.OpenContext(context.EscapedArguments.ToArray());
            using ShimSession session = ShimSession.Open(shim);
            SeedReport report = session.Reseed(session.State);
            Console.WriteLine($"seeded {report.State.Count} names from {report.RunningDomains} running and {report.DefinedDomains} defined domains; deleted {report.DeletedLinks.Count} leaked links");
            return 0;
        });

    /// <summary>Hand a definition's direct NICs to libvirt-shim: prints the XML for 'virsh define', with names preassigned from the bitmap. Example: virsh dumpxml web1 | libvirt-shim adopt - &gt; web1.xml &amp;&amp; virsh define web1.xml</summary>
    /// <param name="file">Domain XML file, or - for stdin.</param>
    /// <param name="network">Name this logical network (the Networks setting resolves it on each host) instead of the NICs' lower device.</param>
    /// <param name="mac">Adopt only the NICs with these MACs (comma-separated).</param>
    [Command("adopt")]
    public int Adopt(ConsoleAppContext context, [Argument] string file, string? network = null, string? mac = null) =>
        CliRun.Guarded(() => AdoptCommand.Run(file, network, mac, context.EscapedArguments.ToArray(), Console.In, Console.Out));

    /// <summary>Replay hook calls through the real hook logic against the real kernel. FILE lists "DOMAIN OP SUBOP EXTRA XMLFILE" per line, or is a directory of recorded NN-*.argv/.xml pairs. Example: libvirt-shim replay samples/big82.replay</summary>
    /// <param name="file">Replay file or recording directory.</param>
    [Command("replay")]
    public int Replay(ConsoleAppContext context, [Argument] string file) =>
        CliRun.Guarded(() => ReplayCommand.Run(file, context.EscapedArguments.ToArray(), Console.Out));
}
