using System.Text.Json.Nodes;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// libvirt 11.3 with QEMU 10.0 (scripts/libvirt-next.sh: the Debian 13 tree) as the migration peer of a suite that runs
/// against this host's older libvirt: the hook installed into the tree with the suite's settings (Instance "next", its
/// own name prefix, uplink e2e-up1, a port of the LAN like the main host's). Stopped again at the end unless it ran before.
/// </summary>
public sealed class NextPeer : IMigrationPeer
{
    public const string NextInstance = "next";

    private readonly LibvirtFixture _fixture;
    private readonly DaemonUnderTest _next = DaemonUnderTest.Next;
    private bool _started;
    private bool _ranBefore;

    public NextPeer(LibvirtFixture fixture)
    {
        _fixture = fixture;
        Virsh = new Virsh(_next.Uri, fixture.WorkDir);
    }

    public Virsh Virsh { get; }
    public string Name => "libvirt-next";
    public string Instance => NextInstance;
    public string NamePrefix => _next.NamePrefix;
    public string QemuRunDir => _next.HostPath("/run/libvirt/qemu");
    public string Versions { get; private set; } = "";

    private string SettingsPath => _next.HostPath(LibvirtFixture.SettingsFile);

    /// <summary>Starts (or restarts, so it sees the suite's bind mounts) the tree's daemon, installs the hook with the suite's settings.</summary>
    public void Start(Action<JsonObject>? settings = null)
    {
        _ranBefore = Script("status").Ok;
        _started = true;
        Script(_ranBefore ? "restart" : "start", TimeSpan.FromMinutes(20)).MustSucceed($"{_next.Control} start");
        Cmd.Run(_fixture.Script("hooks/install.sh"), ["--root", _next.Root, "--reload", "--no-watch"], TimeSpan.FromSeconds(60),
                _fixture.ControlEnvironment)
            .MustSucceed("hooks/install.sh into the libvirt-next tree");
        WriteSettings(settings);
        Versions = DaemonUnderTest.Versions(Virsh);
    }

    /// <summary>Its settings: its own instance, prefix and uplink; <paramref name="tweak"/> adds Uplinks etc. Read on every hook call.</summary>
    public void WriteSettings(Action<JsonObject>? tweak = null) =>
        PeerHost.WritePeerSettings(SettingsPath, NamePrefix, NextInstance, LibvirtFixture.ShimLogFile, tweak);

    public ShimListener StartListener() =>
        new ShimListener(Name, [_fixture.Script(_next.Control), "run"], _next.HostPath(LibvirtFixture.StateDirFile), _fixture.WorkDir).Start();

    public ShimStatus Status() => ShimStatus.Read(command => Cmd.Run(_fixture.Script(_next.Control), ["run", .. command], TimeSpan.FromSeconds(60)));

    public string ShimLog()
    {
        string log = _next.HostPath(LibvirtFixture.ShimLogFile);
        return File.Exists(log) ? File.ReadAllText(log) : "";
    }

    public void Dispose()
    {
        if (!_started) return;
        _started = false;
        Virsh.RemoveGuests(Virsh.GuestPrefix);
        Cmd.Run(_fixture.Script("hooks/uninstall.sh"), ["--root", _next.Root, "--reload"], TimeSpan.FromSeconds(60));
        if (!_ranBefore) Script("stop");
    }

    private CmdResult Script(string verb, TimeSpan? timeout = null) =>
        Cmd.Run(_fixture.Script(_next.Control), [verb], timeout ?? TimeSpan.FromMinutes(2), _fixture.ControlEnvironment);
}
