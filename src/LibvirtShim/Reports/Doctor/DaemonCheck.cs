namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// The libvirt daemon that runs the hook (libvirtd or virtqemud, in this mount namespace) and its version, read from the
/// library it has mapped, without asking libvirt.
/// </summary>
internal static class DaemonCheck
{
    /// <summary>libvirt uses a macvtap someone else created (ethernet, managed='no') since 5.7; 5.8 is what this project tests against as
    /// the minimum.</summary>
    public static readonly LibvirtVersion MinimumLibvirt = new(5, 8, 0);

    /// <summary>The daemon's libvirt version, or null when it is not known.</summary>
    public static LibvirtVersion? Run(DoctorHost host, List<LibvirtDaemon> daemons, LibvirtDaemon? daemon, List<DoctorCheck> checks)
    {
        const string area = "libvirt";
        foreach (LibvirtDaemon other in daemons.Where(d => !d.SameMountNamespace))
            checks.Add(DoctorCheck.Ok(area,
                $"{other} runs in another mount namespace (a separate libvirt with its own /etc/libvirt): not checked here"));
        LibvirtVersion? version;
        string source;
        if (daemon is null)
        {
            checks.Add(DoctorCheck.Warn(area, "neither libvirtd nor virtqemud is running (in this mount namespace)",
                "start libvirtd (or virtqemud); it looks for hooks when it starts"));
            version = LibvirtDaemons.InstalledVersion(host.Root);
            source = "the installed libvirt library";
        }
        else
        {
            version = daemon.Version;
            source = $"{daemon} {daemon.Executable}";
        }
        if (version is not { } v)
        {
            checks.Add(daemon is null
                ? DoctorCheck.Fail(area, "libvirt does not seem to be installed (no libvirt.so.0.* library found)",
                    "install libvirt: apt-get install libvirt-daemon-system")
                : DoctorCheck.Warn(area, $"{source}: version unknown (no libvirt library in its memory map)",
                    $"check it with '{daemon.Name} --version': libvirt-shim needs {MinimumLibvirt} or later"));
            return null;
        }
        checks.Add(v.CompareTo(MinimumLibvirt) >= 0
            ? DoctorCheck.Ok(area, $"libvirt {v} ({source}); managed='no' macvtaps need {MinimumLibvirt}")
            : DoctorCheck.Fail(area, $"libvirt {v} ({source}) is too old: " +
                $"it does not use a macvtap someone else created (<target managed='no'/>, {MinimumLibvirt})",
                $"upgrade libvirt to {MinimumLibvirt} or later"));
        return v;
    }
}
