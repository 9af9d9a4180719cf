using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Logging;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Cli;

/// <summary>What every admin verb shares: settings with overrides, a context, one line per failure.</summary>
internal static class CliRun
{
    public static ShimContext OpenContext(IReadOnlyList<string> settingOverrides)
    {
        ShimSettings settings = SettingsLoader.Load(settingOverrides);
        var log = ShimLog.Create(settings);
        return new ShimContext(settings, LinkTable.Open, log, TimeProvider.System, ownedLog: log);
    }

    public static int Guarded(Func<int> verb)
    {
        try
        {
            return verb();
        }
        catch (Exception e) when (e is ShimException or SettingsException or StateAccessException or StateLockTimeoutException
                                      or DomainXmlException or NetlinkException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"libvirt-shim: {e.Message}");
            return 1;
        }
    }
}
