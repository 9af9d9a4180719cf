using System.Diagnostics;
using LibvirtShim.Configuration;
using LibvirtShim.Devices;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Cli;

/// <summary>What every admin verb shares: settings with overrides, a context whose log names the verb, one line per failure.</summary>
internal static class CliRun
{
    public static ShimContext OpenContext(IReadOnlyList<string> settingOverrides, string verb, string? domain = null, Guid? uuid = null)
    {
        long started = Stopwatch.GetTimestamp();
        ShimSettings settings = SettingsLoader.Load(settingOverrides);
        var log = ShimLog.Create(settings);
        return new ShimContext(settings, LinkTable.Open, Netfilter.GuardTables.Open, TapNodes.System,
            CallLog.For(log, verb, domain, uuid, started), TimeProvider.System, ownedLog: log);
    }

    /// <summary>An option value of <paramref name="verb"/> that cannot be right: exit status 2, and the verb's help says how to give it.</summary>
    public static ShimFailure Usage(string verb, string message) => ShimFailure.OfUsage(message, $"see 'libvirt-shim {verb} --help'");

    /// <summary>Runs a verb; a failure is one line on stderr saying what to do next, and exit status 1 (2 for a usage failure).</summary>
    public static int Guarded(Func<int> verb, TextWriter? error = null)
    {
        error ??= Console.Error;
        try
        {
            return verb();
        }
        catch (Exception e)
        {
            error.WriteLine("libvirt-shim: " + ShimFailure.LineFor(e, advise: true));
            return e is ShimFailure { IsUsage: true } ? ShimCli.UsageError : 1;
        }
    }
}
