using ConsoleAppFramework;
using LibvirtShim.Hook;
using LibvirtShim.Reports.Doctor;
using LibvirtShim.Session;

namespace LibvirtShim.Cli;

/// <summary>The verbs. Every one takes setting overrides after "--" (ConsoleAppContext.EscapedArguments).</summary>
internal sealed class ShimCommands
{
    /// <summary>Check this host, with a fix under each failing line: kernel macvtap support; the hook where the running libvirtd reads it,
    /// executable, and noticed; libvirt new enough (5.8, and 6.5 for qemu.d/); settings; lower devices; definitions; state readable and in
    /// agreement with the kernel; log. Exit status 0 when no check failed. Example: sudo libvirt-shim doctor</summary>
    /// <param name="json">Print JSON for tools: {"passed": bool, "checks": [{status, area, detail, fix}]}.</param>
    [Command("doctor")]
    public int Doctor(ConsoleAppContext context, bool json = false) =>
        CliRun.Guarded(() => DoctorCommand.Run(DoctorHost.ForSystem(context.EscapedArguments.ToArray()), json, Console.Out));

    /// <summary>Show every name held, per lower device: domain, UUID, MAC, mode, link state, and what disagrees with the kernel (leaked
    /// link, missing link, stale reservation) with what to do. Exit status 0 when state and kernel agree, 3 when not. Example: libvirt-shim
    /// status --json | jq '.names[] | select(.problem)'</summary>
    /// <param name="json">Print JSON for tools instead of tables.</param>
    /// <param name="format">text (default), json, or prometheus: node_exporter's textfile format (exit status 0 whenever it was written).</param>
    [Command("status")]
    public int Status(ConsoleAppContext context, bool json = false, string? format = null) =>
        CliRun.Guarded(() => StatusCommand.Run(context.EscapedArguments.ToArray(), json, Console.Out, format));

    /// <summary>Show what 'prepare begin' would do for a domain on this host (names, lower devices after Uplinks and Networks, links to
    /// create or keep) and the exact error it would fail with, without doing anything. Exit status 0 when prepare would succeed, 1 when
    /// not. Example: virsh dumpxml web1 | libvirt-shim explain -</summary>
    /// <param name="file">Domain XML file, or - for stdin.</param>
    /// <param name="json">Print JSON for tools.</param>
    [Command("explain")]
    public int Explain(ConsoleAppContext context, [Argument] string file, bool json = false) =>
        CliRun.Guarded(() => ExplainCommand.Run(file, json, context.EscapedArguments.ToArray(), Console.OpenStandardInput(), Console.Out));

    /// <summary>Hand a definition's direct NICs to libvirt-shim: prints the XML for 'virsh define' (type='ethernet', managed='no', names
    /// preassigned from the bitmap and held for the domain). Example: virsh dumpxml web1 | libvirt-shim adopt - &gt; web1.xml &amp;&amp;
    /// virsh define web1.xml</summary>
    /// <param name="file">Domain XML file, or - for stdin.</param>
    /// <param name="network">Name this logical network (the Networks setting resolves it on each host) instead of the NICs' lower device.</param>
    /// <param name="mac">Adopt only the NICs with these MACs (comma-separated).</param>
    [Command("adopt")]
    public int Adopt(ConsoleAppContext context, [Argument] string file, string? network = null, string? mac = null) =>
        CliRun.Guarded(() => AdoptCommand.Run(file, network, mac, context.EscapedArguments.ToArray(), Console.OpenStandardInput(), Console.Out,
            Console.Error));

    /// <summary>Hot-plug a NIC owned by libvirt-shim: a name from the bitmap, its macvtap made as 'prepare' makes it (marks, mode, MAC,
    /// MTU), the device attached through libvirt and its &lt;shim:link&gt; added to the metadata; any failure undoes all of it. Without
    /// --live or --config: the running guest if it runs, else the definition (as virsh). Example: sudo libvirt-shim attach-interface web1
    /// --source eno1 --mode bridge --live --config</summary>
    /// <param name="domain">Domain name.</param>
    /// <param name="source">Lower device (mapped through Uplinks).</param>
    /// <param name="network">Logical network (resolved through Networks) instead of --source.</param>
    /// <param name="mode">bridge (default), vepa, private, passthru or source.</param>
    /// <param name="mac">The NIC's MAC; default a free one in 52:54:00.</param>
    /// <param name="mtu">The link's MTU (68..65535).</param>
    /// <param name="macaddrs">With --mode source: the source MACs whose frames reach the guest (comma-separated).</param>
    /// <param name="guard">mac, ip or off: the NIC's guard (default: the Guard setting).</param>
    /// <param name="ips">With --guard ip: the addresses and prefixes the guest sends from (comma- or space-separated).</param>
    /// <param name="live">Plug it into the running guest.</param>
    /// <param name="config">Add it to the persistent definition.</param>
    /// <param name="connect">-c, libvirt URI (default: as virsh, LIBVIRT_DEFAULT_URI or libvirt's configured default).</param>
    [Command("attach-interface")]
    public int AttachInterface(ConsoleAppContext context, [Argument] string domain, string? source = null, string? network = null,
        string? mode = null,
        string? mac = null, int? mtu = null, string? macaddrs = null, string? guard = null, string? ips = null, bool live = false,
        bool config = false, string? connect = null) =>
        CliRun.Guarded(() => HotplugCommand.Attach(domain, source, network, mode, mac, mtu, macaddrs, guard, ips, live, config, connect,
            context.EscapedArguments.ToArray(), Console.Out));

    /// <summary>Unplug a NIC owned by libvirt-shim: detached through libvirt, waited for until the running guest no longer lists it, then
    /// its &lt;shim:link&gt; removed, its macvtap deleted and its name freed. Run it again to finish one that stopped half-way. Example:
    /// sudo libvirt-shim detach-interface web1 --mac 52:54:00:aa:00:07 --live --config</summary>
    /// <param name="domain">Domain name.</param>
    /// <param name="mac">The NIC's MAC.</param>
    /// <param name="live">Unplug it from the running guest.</param>
    /// <param name="config">Remove it from the persistent definition.</param>
    /// <param name="wait">Seconds to wait for the guest to let the NIC go.</param>
    /// <param name="connect">-c, libvirt URI (default: as virsh).</param>
    [Command("detach-interface")]
    public int DetachInterface(ConsoleAppContext context, [Argument] string domain, string mac, bool live = false, bool config = false, int wait = 30,
        string? connect = null) =>
        CliRun.Guarded(() => HotplugCommand.Detach(domain, mac, live, config, wait, connect, context.EscapedArguments.ToArray(), Console.Out));

    /// <summary>Make again the macvtaps of running guests that were deleted with their uplink (ifdown/ifup, a NIC driver reload) — the same
    /// name, MAC, mode, MTU and marks as at start — and plug each such NIC into the guest again through libvirt (unplug, then plug), since
    /// QEMU holds a descriptor of the deleted device. Without DOMAIN: every running guest that lost a link. Example: sudo libvirt-shim
    /// repair web1</summary>
    /// <param name="domain">Domain name; without it every running guest that lost a link.</param>
    /// <param name="wait">Seconds to wait for the guest to let each NIC go before plugging it in again.</param>
    /// <param name="connect">-c, libvirt URI (default: as virsh).</param>
    [Command("repair")]
    public int Repair(ConsoleAppContext context, [Argument] string? domain = null, int wait = 30, string? connect = null) =>
        CliRun.Guarded(() => RepairCommand.Run(domain, wait, connect, context.EscapedArguments.ToArray(), Console.Out));

    /// <summary>Rebuild the state from running guests' status XML, persistent definitions and the kernel's links; deletes links of
    /// libvirt-shim's that nobody can own any more. Example: sudo libvirt-shim seed</summary>
    [Command("seed")]
    public int Seed(ConsoleAppContext context) =>
        CliRun.Guarded(() =>
        {
            using ShimContext shim = CliRun.OpenContext(context.EscapedArguments.ToArray(), "seed");
            using ShimSession session = ShimSession.Open(shim);
            SeedReport report = session.Seeded ?? session.Reseed(session.State); // seeded once, whichever did it, and counted once
            shim.Log.Information("Seeded {Names} names from {Running} running and {Defined} defined domains; deleted {Leaked} leaked links",
                report.State.Count, report.RunningDomains, report.DefinedDomains, report.DeletedLinks.Count);
            int guards = report.DeletedGuards?.Count ?? 0;
            Console.WriteLine($"seeded {report.State.Count} names from {report.RunningDomains} running and {report.DefinedDomains} defined " +
                $"domains; deleted {report.DeletedLinks.Count} leaked links" + (guards > 0 ? $" and {guards} orphaned guard tables" : ""));
            return 0;
        });

    /// <summary>The listener: follows libvirt's domain lifecycle events and keeps each link libvirt-shim made up exactly while its guest's
    /// vCPUs run on this host (down while an arriving migration copies memory, after the source's switchover, while paused), as libvirt does
    /// with its own direct NICs; reconciles every guest when it connects, reconnects when the daemon restarts. While it runs, 'prepare'
    /// creates links down. Runs until SIGTERM; a service manager starts it (the Debian package's libvirt-shim-watch.service). Example: sudo
    /// libvirt-shim watch --pid-file /run/libvirt-shim/watch.pid</summary>
    /// <param name="connect">-c, libvirt URI (default: as virsh, LIBVIRT_DEFAULT_URI or libvirt's configured default).</param>
    /// <param name="pidFile">Write this process's pid there (removed at exit).</param>
    [Command("watch")]
    public int Watch(ConsoleAppContext context, string? connect = null, string? pidFile = null) =>
        CliRun.Guarded(() => WatchCommand.Run(connect, pidFile, context.EscapedArguments.ToArray()));

    /// <summary>Replay hook calls through the real hook logic against the real kernel, printing each call's exit status, time, messages and
    /// links. FILE lists "DOMAIN OP SUBOP EXTRA XMLFILE" per line, or is a directory of recorded NN-*.argv/.xml pairs. Example:
    /// libvirt-shim replay samples/big82.replay</summary>
    /// <param name="file">Replay file or recording directory.</param>
    [Command("replay")]
    public int Replay(ConsoleAppContext context, [Argument] string file) =>
        CliRun.Guarded(() => ReplayCommand.Run(file, context.EscapedArguments.ToArray(), Console.Out));

    /// <summary>Run one hook call as libvirt would, the domain XML on stdin; what libvirt runs as /etc/libvirt/hooks/qemu DOMAIN OP SUBOP
    /// EXTRA. Example: libvirt-shim hook web1 prepare begin - &lt; web1.xml</summary>
    /// <param name="domain">Domain name.</param>
    /// <param name="operation">prepare, start, started, stopped, release, migrate, restore, reconnect.</param>
    /// <param name="subOperation">begin or end.</param>
    /// <param name="extra">Extra argument, "-" when none.</param>
    [Command("hook")]
    public int Hook(ConsoleAppContext context, [Argument] string domain, [Argument] string operation, [Argument] string subOperation = "-",
        [Argument] string extra = "-") =>
        HookEntry.Run([domain, operation, subOperation, extra], HookHost.ForSystem(context.EscapedArguments.ToArray()));
}
