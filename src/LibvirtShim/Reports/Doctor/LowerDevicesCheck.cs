using LibvirtShim.Configuration;
using LibvirtShim.Netlink;

namespace LibvirtShim.Reports.Doctor;

/// <summary>The lower devices the settings and the definitions name: each must exist, be able to carry a macvtap, and should be up.</summary>
internal static class LowerDevicesCheck
{
    /// <param name="definitions">The devices the definitions' owned NICs use, with the domains using each.</param>
    public static void Run(ShimSettings settings, Dictionary<string, List<string>> definitions, IReadOnlyList<Link> links, List<DoctorCheck> checks)
    {
        const string area = "lower devices";
        var wanted = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        void Want(string device, string by)
        {
            if (!wanted.TryGetValue(device, out SortedSet<string>? set)) wanted[device] = set = new SortedSet<string>(StringComparer.Ordinal);
            set.Add(by);
        }
        foreach (string device in settings.AllowedLowerDevices) Want(device, "AllowedLowerDevices");
        foreach (var (from, to) in settings.Uplinks) Want(to, $"Uplinks[{from}]");
        foreach (var (network, device) in settings.Networks) Want(device, $"Networks[{network}]");
        foreach (var (device, domains) in definitions)
        {
            foreach (string domain in domains) Want(device, $"domain {domain}");
        }

        if (wanted.Count == 0)
        {
            checks.Add(DoctorCheck.Ok(area, "no lower device named by the settings or the definitions"));
            return;
        }
        var byName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        var byIndex = links.ToDictionary(l => l.Index);
        foreach (var (device, users) in wanted)
        {
            string by = string.Join(", ", users);
            if (!byName.TryGetValue(device, out Link link))
                checks.Add(DoctorCheck.Fail(area, $"{device} ({by}) does not exist on this host: guests using it do not start",
                    $"create {device}, or change the setting or definition that names it (Uplinks can map it to a device of this host)"));
            else if (Lifecycle.LowerDevices.Unfit(link, byIndex) is { } unfit)
                checks.Add(DoctorCheck.Fail(area, $"{device} ({by}) {unfit.Reason}: guests using it do not start",
                    $"{unfit.Fix} (the setting or definition that names it, or Uplinks on this host)"));
            else if (!link.IsUp)
                checks.Add(DoctorCheck.Warn(area, $"{device} ({by}) exists but is down: the next guest start on it brings it up",
                    $"ip link set {device} up"));
            else
                checks.Add(DoctorCheck.Ok(area, $"{device} ({by}) exists and is up"));
        }
    }
}
