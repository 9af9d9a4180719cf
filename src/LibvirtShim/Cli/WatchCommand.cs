using System.Runtime.InteropServices;
using LibvirtShim.Configuration;
using LibvirtShim.Devices;
using LibvirtShim.Libvirt;
using LibvirtShim.Listener;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Cli;

/// <summary>
/// <c>watch</c>: the listener, in the foreground until SIGTERM or SIGINT (a service manager runs it; <c>hooks/install.sh</c>
/// starts it in the background where there is none, with <c>--pid-file</c>).
/// </summary>
internal static class WatchCommand
{
    /// <summary>How often the thread that repairs lost uplinks looks whether to stop.</summary>
    private static readonly TimeSpan RepairWake = TimeSpan.FromSeconds(1);

    /// <summary>How long a repair waits for a guest to let its NIC go, as <c>repair</c>'s default --wait.</summary>
    private static readonly TimeSpan RepairWait = TimeSpan.FromSeconds(30);

    public static int Run(string? uri, string? pidFile, IReadOnlyList<string> settingOverrides)
    {
        ShimSettings settings = SettingsLoader.Load(settingOverrides);
        using var log = ShimLog.Create(settings, followRotation: true);
        using var stop = new CancellationTokenSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop(stop));
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop(stop));
        using LinkTable links = LinkTable.Open();
        using MacAnnouncer? announcer = OpenAnnouncer(log);
        if (pidFile is not null) WritePidFile(pidFile);
        try
        {
            var loop = new WatchLoop(settings, uri, links, announcer, LinkMarker.For(settings), log, TimeProvider.System,
                sink => LibvirtWatchConnection.Open(uri, sink));
            using ShimContext repairs = new(settings, LinkTable.Open, Netfilter.GuardTables.Open, TapNodes.System, log, TimeProvider.System);
            using LinkEvents events = LinkEvents.Open(RepairWake);
            Thread repairing = new UplinkRepair(repairs, name => LibvirtGuest.Open(uri, name), RepairWait, loop.Repaired, _ => loop.RepairFailed())
                .Start(events, stop.Token);
            loop.Run(stop.Token);
            repairing.Join(RepairWait + 2 * RepairWake);   // a repair under way finishes before its context goes
            return 0;
        }
        catch (Exception e)
        {
            log.Error(ShimFailure.IsBug(e) ? e : null, "Listener failed: {Message}", ShimFailure.LineFor(e));
            throw;
        }
        finally
        {
            if (pidFile is not null) RemovePidFile(pidFile);
        }
    }

    /// <summary>Without a packet socket the links still follow their guests; only QEMU's announce is not repeated.</summary>
    private static MacAnnouncer? OpenAnnouncer(Serilog.ILogger log)
    {
        try
        {
            return MacAnnouncer.Open();
        }
        catch (FileCallException e)
        {
            log.Warning("No packet socket ({Problem}): links brought up will not repeat QEMU's announce of the guest's MAC", e.Message);
            return null;
        }
    }

    private static Action<PosixSignalContext> Stop(CancellationTokenSource stop) => context =>
    {
        context.Cancel = true;
        stop.Cancel();
    };

    /// <summary>This process's pid, for an init script or hooks/uninstall.sh; written whole (a temporary file, then rename).</summary>
    private static void WritePidFile(string path)
    {
        try
        {
            string full = Path.GetFullPath(path);
            new StateFiles(Path.GetDirectoryName(full)!).Replace(new StateFile(Path.GetFileName(full), "pid file"),
                System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"));
        }
        catch (ShimFailure e)
        {
            throw ShimFailure.WithoutDomain($"cannot write the pid file: {e.Message}", "give --pid-file a path in a directory root owns");
        }
    }

    /// <summary>Only a pid file that still names this process goes.</summary>
    private static void RemovePidFile(string path)
    {
        try
        {
            if (File.ReadAllText(path).Trim() == Environment.ProcessId.ToString()) File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
