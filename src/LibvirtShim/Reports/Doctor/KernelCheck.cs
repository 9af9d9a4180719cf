namespace LibvirtShim.Reports.Doctor;

/// <summary>Whether the kernel can make macvtaps: built in, loaded, a module it can load, or configured so.</summary>
internal static class KernelCheck
{
    public static DoctorCheck Run(DoctorHost host)
    {
        const string area = "kernel macvtap";
        string release = HostFiles.ReadText(Path.Combine(host.Proc, "sys", "kernel", "osrelease"))?.Trim() ?? "";
        string devices = HostFiles.ReadText(Path.Combine(host.Proc, "devices")) ?? "";
        if (devices.Split('\n').Any(l => l.Trim().EndsWith(" macvtap", StringComparison.Ordinal)))
            return DoctorCheck.Ok(area, $"macvtap is built in or loaded (kernel {release})");
        if (Directory.Exists(host.Under("/sys/module/macvtap")))
            return DoctorCheck.Ok(area, $"the macvtap module is loaded (kernel {release})");
        foreach (string list in new[] { "modules.builtin", "modules.dep" })
        {
            string? text = HostFiles.ReadText(host.Under($"/lib/modules/{release}/{list}"));
            if (text is not null && text.Contains("/macvtap.ko", StringComparison.Ordinal))
                return DoctorCheck.Ok(area, list == "modules.builtin"
                    ? $"macvtap is built into kernel {release}"
                    : $"macvtap is a module of kernel {release}; the kernel loads it when the first macvtap is created");
        }
        string? config = HostFiles.ReadText(host.Under($"/boot/config-{release}"));
        if (config is not null && (config.Contains("CONFIG_MACVTAP=y", StringComparison.Ordinal)
            || config.Contains("CONFIG_MACVTAP=m", StringComparison.Ordinal)))
            return DoctorCheck.Ok(area, $"kernel {release} is built with macvtap (/boot/config-{release})");
        return DoctorCheck.Fail(area, $"no sign of macvtap support in kernel {release} (not in /proc/devices, no macvtap module, no CONFIG_MACVTAP)",
            "load it with 'modprobe macvtap', or boot a kernel built with CONFIG_MACVTAP=m or y");
    }
}
