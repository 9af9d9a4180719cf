using LibvirtShim.Configuration;
using LibvirtShim.Devices;
using LibvirtShim.Logging;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using Serilog.Core;

namespace LibvirtShim.Hook;

/// <summary>
/// Where a hook call gets its settings, links, tap nodes (/dev and /sys), clock and log; replaced in tests and replays,
/// which must never give the host's /dev for links of another network namespace.
/// </summary>
internal sealed record HookHost(
    Func<ShimSettings> LoadSettings,
    Func<LinkTable> OpenLinks,
    Func<GuardTables> OpenGuards,
    TimeProvider Clock,
    Func<ShimSettings, Logger> CreateLog,
    TapNodes Taps)
{
    public static HookHost ForSystem(IReadOnlyList<string>? settingOverrides = null) =>
        new(() => SettingsLoader.Load(settingOverrides), LinkTable.Open, GuardTables.Open, TimeProvider.System, ShimLog.Create,
            TapNodes.System);
}
