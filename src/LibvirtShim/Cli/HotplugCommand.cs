using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Session;

namespace LibvirtShim.Cli;

/// <summary><c>attach-interface</c> and <c>detach-interface</c>: owned NICs hot-plugged through libvirt's C API.</summary>
internal static class HotplugCommand
{
    public static int Attach(string domain, string? source, string? network, string? mode, string? mac, int? mtu, string? macaddrs, string? guard,
        string? ips, bool live, bool config, string? uri, IReadOnlyList<string> settingOverrides, TextWriter output)
    {
        if ((source is null) == (network is null))
            throw CliRun.Usage(Attaching, $"domain '{domain}': give exactly one of --source LOWER-DEVICE or --network NAME");
        if (!MacvtapModes.TryParse(mode, out MacvtapMode parsedMode))
            throw CliRun.Usage(Attaching, $"domain '{domain}': --mode '{mode}' is not a macvtap mode (bridge, vepa, private, passthru or source)");
        if (source is not null && InterfaceName.Problem(source) is { } problem)
            throw CliRun.Usage(Attaching, $"domain '{domain}': --source '{source}' {problem}");
        if (mtu is < 68 or > 65535)
            throw CliRun.Usage(Attaching, $"domain '{domain}': --mtu {mtu} is outside 68..65535");
        var request = new AttachRequest(source, network, parsedMode, ParseMac(Attaching, domain, mac), mtu, live, config,
            SourceMacs(domain, parsedMode, macaddrs), Parsed(domain, "--guard", guard, DomainReader.ParseGuard),
            Parsed(domain, "--ips", ips, DomainReader.ParseIps));

        using ShimContext context = CliRun.OpenContext(settingOverrides, "attach-interface", domain);
        using LibvirtGuest guest = LibvirtGuest.Open(uri, domain);
        AttachedNic attached = AttachInterface.Run(context, guest, request);
        output.WriteLine($"attached NIC {attached.Nic.Mac} ({attached.Nic.Name}) to domain '{domain}' ({Describe(attached.Scope)})");
        return 0;
    }

    public static int Detach(string domain, string mac, bool live, bool config, int waitSeconds, string? uri, IReadOnlyList<string> settingOverrides,
        TextWriter output)
    {
        if (waitSeconds < 0) throw CliRun.Usage(Detaching, $"domain '{domain}': --wait {waitSeconds} is not a number of seconds (0 or more)");
        var request = new DetachRequest(ParseMac(Detaching, domain, mac)!.Value, live, config, TimeSpan.FromSeconds(waitSeconds));
        using ShimContext context = CliRun.OpenContext(settingOverrides, "detach-interface", domain);
        using LibvirtGuest guest = LibvirtGuest.Open(uri, domain);
        OwnedNic nic = DetachInterface.Run(context, guest, request);
        output.WriteLine($"detached NIC {nic.Mac} ({nic.Name}) from domain '{domain}'");
        return 0;
    }

    private const string Attaching = "attach-interface", Detaching = "detach-interface";

    /// <summary>--macaddrs: the source MACs of a source-mode NIC, required in that mode and refused in the others.</summary>
    private static MacAddressSet? SourceMacs(string domain, MacvtapMode mode, string? macaddrs)
    {
        if (mode != MacvtapMode.Source)
            return macaddrs is null ? null : throw CliRun.Usage(Attaching, $"domain '{domain}': --macaddrs is only for --mode source");
        if (string.IsNullOrWhiteSpace(macaddrs))
            throw CliRun.Usage(Attaching, $"domain '{domain}': --mode source needs --macaddrs MAC,..., the source MACs whose frames reach the guest");
        if (!MacAddressSet.TryParse(macaddrs, out MacAddressSet set) || set.Addresses.Any(m => m.IsMulticast || m.Value == 0)
            || set.Count > Domain.ShimMetadata.MaxSourceMacs)
            throw CliRun.Usage(Attaching, $"domain '{domain}': --macaddrs '{macaddrs}' is not a list of at most " +
                $"{Domain.ShimMetadata.MaxSourceMacs} unicast MAC addresses");
        return set;
    }

    /// <summary>--guard and --ips, read as the hook reads guard= and ips=; what it refuses is a usage error.</summary>
    private static T? Parsed<T>(string domain, string option, string? text, Func<string, string, T> parse) where T : notnull
    {
        if (text is null) return default;
        try
        {
            return parse(text, $"domain '{domain}': {option}");
        }
        catch (ShimFailure e)
        {
            throw CliRun.Usage(Attaching, e.Message);
        }
    }

    private static MacAddress? ParseMac(string verb, string domain, string? mac) =>
        mac is null ? null
        : MacAddress.TryParse(mac.ToLowerInvariant(), out MacAddress parsed) && !parsed.IsMulticast ? parsed
        : throw CliRun.Usage(verb, $"domain '{domain}': --mac '{mac}' is not a unicast MAC address");

    private static string Describe(GuestScope scope) => string.Join(" and ", GuestScopes.Sides(scope).Select(AttachInterface.SideName));
}
