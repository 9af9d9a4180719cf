namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// The libvirt daemon the suite runs against, from the environment. SHIM_E2E_DAEMON picks a profile: "host" (default:
/// this machine's own daemon, scripts/libvirt-up.sh) or "next" (libvirt 11.3 in the Debian 13 tree of
/// scripts/libvirt-next.sh); SHIM_E2E_URI, SHIM_E2E_CONTROL, SHIM_E2E_ROOT and SHIM_E2E_NAME_PREFIX override its parts.
/// </summary>
/// <param name="Profile">The profile's name, for messages.</param>
/// <param name="Uri">Where virsh reaches the daemon.</param>
/// <param name="Control">A script (relative to the repository) with the verbs start, restart and, unless <paramref name="Root"/> is "/",
/// run CMD... (CMD in the daemon's file system and mount namespace, as the hook runs).</param>
/// <param name="Root">The daemon's file system root as seen from here: its /etc/libvirt (hook, settings) and /run/libvirt (hook
/// state, status XML) are under it.</param>
/// <param name="NamePrefix">The hook's NamePrefix in the suite's settings: the suite's own names, so that definitions on the host that
/// hold names of another prefix (the default mvtap) never meet the suite's.</param>
public sealed record DaemonUnderTest(string Profile, string Uri, string Control, string Root, string NamePrefix)
{
    public const string NextTree = "/var/lib/libvirt-shim-next/trixie";

    public static DaemonUnderTest Host { get; } = new("host", "qemu:///system", "scripts/libvirt-up.sh", "/", "e2etap");

    public static DaemonUnderTest Next { get; } = new("next", "qemu+tcp://127.0.0.1:16520/system", "scripts/libvirt-next.sh", NextTree, "e2enx");

    public static DaemonUnderTest FromEnvironment()
    {
        string profile = Environment.GetEnvironmentVariable("SHIM_E2E_DAEMON") is { Length: > 0 } p ? p : "host";
        DaemonUnderTest chosen = profile switch
        {
            "host" => Host,
            "next" => Next,
            _ => throw new InvalidOperationException($"SHIM_E2E_DAEMON={profile}: the profiles are 'host' and 'next'"),
        };
        return chosen with
        {
            Uri = Env("SHIM_E2E_URI") ?? chosen.Uri,
            Control = Env("SHIM_E2E_CONTROL") ?? chosen.Control,
            Root = Env("SHIM_E2E_ROOT") ?? chosen.Root,
            NamePrefix = Env("SHIM_E2E_NAME_PREFIX") ?? chosen.NamePrefix,
        };
    }

    public bool InTree => Root != "/";

    /// <summary>A path of the daemon's file system as seen from here.</summary>
    public string HostPath(string path) => InTree ? Root + path : path;

    /// <summary>The command line that runs <paramref name="command"/> where the hook runs (the daemon's root and mount namespace).</summary>
    public string[] Where(string repoRoot, string[] command) =>
        InTree ? [Path.Combine(repoRoot, Control), "run", .. command] : command;

    /// <summary>"libvirt 11.3.0, QEMU 10.0.13 (libvirtd)": the daemon's versions (virsh version --daemon) and its program.</summary>
    public static string Versions(Virsh virsh)
    {
        CmdResult r = virsh.Run("version", "--daemon").MustSucceed($"virsh -c {virsh.Uri} version --daemon");
        string Field(string label) =>
            r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(label, StringComparison.Ordinal))?[label.Length..].Trim() ?? "?";
        string qemu = Field("Running hypervisor:");
        if (qemu.StartsWith("QEMU ", StringComparison.Ordinal)) qemu = qemu["QEMU ".Length..];
        return $"libvirt {Field("Running against daemon:")}, QEMU {qemu} ({DaemonProcess.Serving(virsh.Uri) ?? "daemon program not found"})";
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}
