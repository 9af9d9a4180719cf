using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;

namespace LibvirtShim.Soak.World;

/// <summary>
/// One host of the run: its libvirt daemon (virsh, its control script), where its hook runs (the admin tool), its uplink
/// (a port of the LAN) and the marks its hook gives links. Both hosts share this machine's kernel.
/// </summary>
public sealed class SoakSite
{
    private readonly LibvirtFixture _fixture;
    private readonly Func<ShimStatus> _status;

    public SoakSite(Site site, LibvirtFixture fixture, Virsh virsh, DaemonUnderTest daemon, string uplink, string instance,
        Func<ShimStatus> status)
    {
        Site = site;
        _fixture = fixture;
        Virsh = virsh;
        Daemon = daemon;
        Uplink = uplink;
        Instance = instance;
        _status = status;
    }

    public Site Site { get; }
    public string Label => Site.Label();
    public Virsh Virsh { get; }
    public DaemonUnderTest Daemon { get; }

    /// <summary>The lower device of every owned NIC here (e2e-up0 or e2e-up1); its veth peer is a port of the LAN's switch.</summary>
    public string Uplink { get; }
    public string UplinkPort => Uplink + "p";

    /// <summary>The hook's Instance here: the last part of its links' alias "libvirt-shim:UUID@INSTANCE".</summary>
    public string Instance { get; }
    public string NamePrefix => Daemon.NamePrefix;

    /// <summary>Where the daemon keeps its guests' status XML and QEMU pid files, seen from here.</summary>
    public string QemuRunDir => Daemon.HostPath("/run/libvirt/qemu");

    public string HostPath(string path) => Daemon.HostPath(path);

    /// <summary>libvirt-shim ARGS where this host's hook runs (chrooted in the tree for libvirt-next).</summary>
    public CmdResult Shim(IEnumerable<string> args, string? stdin = null)
    {
        string[] command = Daemon.Where(_fixture.RepoRoot, [ShimStatus.Executable, .. args]);
        return Cmd.Run(command[0], command[1..], TimeSpan.FromSeconds(120), stdin: stdin);
    }

    public ShimStatus Status() => _status();

    /// <summary>The daemon's pid, from its pid file, checked to be that daemon (its program, and its root for a tree); or null.</summary>
    public int? DaemonPid()
    {
        foreach (string program in new[] { "libvirtd", "virtqemud" })
        {
            string file = HostPath($"/run/{program}.pid");
            if (!File.Exists(file) || !int.TryParse(File.ReadAllText(file).Trim(), out int pid)) continue;
            string comm = ReadOrEmpty($"/proc/{pid}/comm").Trim();
            string root = new FileInfo($"/proc/{pid}/root").LinkTarget ?? "";
            if (comm == program && (!Daemon.InTree || root == Daemon.Root)) return pid;
        }
        return null;
    }

    /// <summary>
    /// kill -9 of this host's daemon (the one its control script runs; no other process), then its control script's
    /// restart: guests keep running, and the new daemon's reconnect calls reach the hook. Returns the killed pid.
    /// </summary>
    public int KillDaemonAndRestart()
    {
        int pid = DaemonPid() ?? throw new StepFailed($"{Label}: no daemon pid file names a running daemon");
        using (Process daemon = Process.GetProcessById(pid))
        {
            daemon.Kill();
            if (!daemon.WaitForExit(TimeSpan.FromSeconds(30))) throw new StepFailed($"{Label}: daemon {pid} survived SIGKILL for 30 s");
        }
        RestartDaemon();
        return pid;
    }

    /// <summary>The control script's restart (SIGTERM, then a new daemon that answers).</summary>
    public void RestartDaemon() =>
        Cmd.Run(_fixture.Script(Daemon.Control), ["restart"], TimeSpan.FromMinutes(3), _fixture.ControlEnvironment)
            .MustSucceed($"{Daemon.Control} restart");

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }
}
