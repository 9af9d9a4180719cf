using System.Text.Json;
using System.Text.Json.Nodes;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>A second host for live migration: its daemon, its hook's settings, status and log.</summary>
public interface IMigrationPeer : IDisposable
{
    Virsh Virsh { get; }

    /// <summary>For messages and timings: "peer", "libvirt-next".</summary>
    string Name { get; }

    /// <summary>The hook's Instance and NamePrefix there (both hosts share the kernel's links, so they differ from the main host's).</summary>
    string Instance { get; }
    string NamePrefix { get; }

    /// <summary>Where its daemon keeps its guests' QEMU pid files, seen from here.</summary>
    string QemuRunDir { get; }

    /// <summary>"libvirt 9.0.0, QEMU 7.2.x (libvirtd (pid N))".</summary>
    string Versions { get; }

    void Start(Action<JsonObject>? settings = null);

    /// <summary>Its listener (libvirt-shim watch), started where its hook runs; the caller stops it (Dispose).</summary>
    ShimListener StartListener();
    ShimStatus Status();
    string ShimLog();
}

/// <summary>
/// A second libvirtd ("host B") through scripts/libvirt-peer.sh, running this machine's own libvirt, in a private directory and on its own port so a
/// developer's own peer is never touched; the hook installed into its /etc/libvirt with its own settings
/// (Instance "peer"). Both daemons share the kernel, so the two hosts use different uplinks.
/// </summary>
public sealed class PeerHost : IMigrationPeer
{
    public const string Dir = "/var/lib/libvirt-shim-e2e-peer";
    public const string Port = "16519";
    public const string PeerInstance = "peer";
    public const string Uri = "qemu+tcp://127.0.0.1:" + Port + "/system";

    private static readonly Dictionary<string, string> Env = new()
    {
        ["LIBVIRT_PEER_DIR"] = Dir,
        ["LIBVIRT_PEER_PORT"] = Port,
        ["LIBVIRT_PEER_HOSTNAME"] = "libvirt-shim-e2e-peer",
    };

    private readonly LibvirtFixture _fixture;
    private bool _started;

    public PeerHost(LibvirtFixture fixture)
    {
        _fixture = fixture;
        Virsh = new Virsh(Uri, fixture.WorkDir);
    }

    public Virsh Virsh { get; }
    public string Name => "peer";
    public string Instance => PeerInstance;
    public string NamePrefix => "e2epr";
    public string QemuRunDir => Path.Combine(Dir, "run", "qemu");
    public string Versions { get; private set; } = "";

    public static string SettingsPath => Path.Combine(Dir, "etc", "libvirt-shim.json");

    /// <summary>Starts the peer, installs the hook for it (install.sh --etc ... --no-reload), writes its settings, restarts its libvirtd.</summary>
    public void Start(Action<JsonObject>? settings = null)
    {
        _started = true;
        Script("start").MustSucceed("libvirt-peer.sh start");
        Cmd.Run(_fixture.Script("hooks/install.sh"), ["--etc", Path.Combine(Dir, "etc"), "--no-reload", "--no-watch"], TimeSpan.FromSeconds(60))
            .MustSucceed("hooks/install.sh for the peer");
        WriteSettings(settings);
        Script("restart").MustSucceed("libvirt-peer.sh restart (so it sees the hook)");
        Versions = DaemonUnderTest.Versions(Virsh);
    }

    /// <summary>The peer's settings: its own instance and uplink; <paramref name="tweak"/> adds Uplinks etc. Read on every hook call.</summary>
    public void WriteSettings(Action<JsonObject>? tweak = null) => WritePeerSettings(SettingsPath, NamePrefix, PeerInstance, null, tweak);

    /// <summary>A migration peer's hook settings: its name prefix and instance, uplink e2e-up1 only; then <paramref name="tweak"/>.</summary>
    internal static void WritePeerSettings(string path, string namePrefix, string instance, string? logFile, Action<JsonObject>? tweak)
    {
        var s = new JsonObject
        {
            ["NamePrefix"] = namePrefix,
            ["StateDir"] = LibvirtFixture.StateDirFile,
            ["AllowedLowerDevices"] = new JsonArray(LibvirtFixture.Uplink1),
            ["Uplinks"] = new JsonObject(),
            ["Instance"] = instance,
            ["LogLevel"] = "Information",
        };
        if (logFile is not null) s["LogFile"] = logFile;
        tweak?.Invoke(s);
        File.WriteAllText(path, s.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>A command inside the peer's mount namespace, where /etc/libvirt and /run/libvirt are the peer's.</summary>
    public CmdResult Exec(params string[] command) =>
        Cmd.Run(_fixture.Script("scripts/libvirt-peer.sh"), ["exec", .. command], TimeSpan.FromSeconds(60), Env);

    public ShimStatus Status() => ShimStatus.Read(Exec);

    public ShimListener StartListener() => new ShimListener(Name,
        ["env", .. Env.Select(e => $"{e.Key}={e.Value}"), _fixture.Script("scripts/libvirt-peer.sh"), "exec"],
        Path.Combine(Dir, "run", Path.GetFileName(LibvirtFixture.StateDirFile)), _fixture.WorkDir).Start();

    /// <summary>The peer hook's log (its /var/log/libvirt is the private log directory).</summary>
    public string ShimLog() =>
        File.Exists(Path.Combine(Dir, "log", "shim.log")) ? File.ReadAllText(Path.Combine(Dir, "log", "shim.log")) : "";

    public void Dispose()
    {
        if (!_started) return;
        _started = false;
        Virsh.RemoveGuests(Virsh.GuestPrefix);
        Script("stop");
    }

    /// <summary>A peer left running by an interrupted run of this suite (its private directory exists).</summary>
    public static void StopLeftover(LibvirtFixture fixture)
    {
        if (Directory.Exists(Dir))
            Cmd.Run(fixture.Script("scripts/libvirt-peer.sh"), ["stop"], TimeSpan.FromMinutes(2), Env);
    }

    private CmdResult Script(string verb) =>
        Cmd.Run(_fixture.Script("scripts/libvirt-peer.sh"), [verb], TimeSpan.FromMinutes(2), Env);
}
