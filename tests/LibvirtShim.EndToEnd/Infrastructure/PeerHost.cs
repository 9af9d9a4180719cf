using System.Text.Json;
using System.Text.Json.Nodes;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// A second libvirtd ("host B") through scripts/libvirt-peer.sh, in a private directory and on its own port so a
/// developer's own peer is never touched; the hook installed into its /etc/libvirt with its own settings
/// (Instance "peer"). Both daemons share the kernel, so the two hosts use different uplinks.
/// </summary>
public sealed class PeerHost : IDisposable
{
    public const string Dir = "/var/lib/libvirt-shim-e2e-peer";
    public const string Port = "16519";
    public const string Instance = "peer";
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

    public static string SettingsPath => Path.Combine(Dir, "etc", "libvirt-shim.json");

    /// <summary>Starts the peer, installs the hook for it (install.sh --etc ... --no-reload), writes its settings, restarts its libvirtd.</summary>
    public void Start(Action<JsonObject>? settings = null)
    {
        _started = true;
        Script("start").MustSucceed("libvirt-peer.sh start");
        Cmd.Run(_fixture.Script("hooks/install.sh"), ["--etc", Path.Combine(Dir, "etc"), "--no-reload"], TimeSpan.FromSeconds(60))
            .MustSucceed("hooks/install.sh for the peer");
        WriteSettings(settings);
        Script("restart").MustSucceed("libvirt-peer.sh restart (so it sees the hook)");
    }

    /// <summary>The peer's settings: its own instance and uplink; <paramref name="tweak"/> adds Uplinks etc. Read on every hook call.</summary>
    public void WriteSettings(Action<JsonObject>? tweak = null)
    {
        var s = new JsonObject
        {
            ["StateDir"] = LibvirtFixture.StateDir,
            ["AllowedLowerDevices"] = new JsonArray(LibvirtFixture.Uplink1),
            ["Uplinks"] = new JsonObject(),
            ["Instance"] = Instance,
            ["LogLevel"] = "Information",
        };
        tweak?.Invoke(s);
        File.WriteAllText(SettingsPath, s.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>A command inside the peer's mount namespace, where /etc/libvirt and /run/libvirt are the peer's.</summary>
    public CmdResult Exec(params string[] command) =>
        Cmd.Run(_fixture.Script("scripts/libvirt-peer.sh"), ["exec", .. command], TimeSpan.FromSeconds(60), Env);

    public ShimStatus Status() => ShimStatus.Read(Exec);

    /// <summary>The peer hook's log (its /var/log/libvirt is the private log directory).</summary>
    public static string ShimLog() =>
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
