using LibvirtShim.Configuration;
using LibvirtShim.Netlink;

namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// The checklist of <c>libvirt-shim doctor</c>, one check per concern, in the order an administrator would look. Reads,
/// never writes: it does not create the state directory, take the lock for long, touch a link or call libvirt (the
/// daemon's version comes from the library it has mapped).
/// </summary>
internal static class DoctorChecks
{
    public static List<DoctorCheck> Run(DoctorHost host)
    {
        var checks = new List<DoctorCheck>();
        if (host.EffectiveUser != 0)
            checks.Add(DoctorCheck.Warn("privileges",
                "not running as root: the state, the lock and what libvirtd sees need root, so some checks are incomplete",
                "run it as root: sudo libvirt-shim doctor"));
        checks.Add(KernelCheck.Run(host));
        var daemons = LibvirtDaemons.Find(host.Proc, host.Boot);
        LibvirtDaemon? daemon = daemons.FirstOrDefault(d => d.SameMountNamespace);
        LibvirtVersion? version = DaemonCheck.Run(host, daemons, daemon, checks);
        HookCheck.Run(host, daemon, version, checks);

        ShimSettings? settings = SettingsCheck.Run(host, checks);
        if (settings is null)
        {
            checks.Add(DoctorCheck.Warn("lower devices, state", "not checked: the settings are not valid", "fix the settings first"));
            return checks;
        }
        IReadOnlyList<Link>? links = HostAddressesCheck.Run(host, settings, checks);
        Dictionary<string, List<string>> lowers = DefinitionsCheck.Run(settings, checks);
        if (links is not null)
        {
            LowerDevicesCheck.Run(settings, lowers, links, checks);
            StateCheck.Run(settings, links, checks);
        }
        ListenerCheck.Run(settings, checks);
        GuardCheck.Run(host, settings, checks);
        LogCheck.Run(settings, checks);
        return checks;
    }
}
