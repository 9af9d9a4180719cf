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
    public static int Attach(string domain, string? source, string? network, string? mode, string? mac, int? mtu, bool live, bool config,
        string? uri, IReadOnlyList<string> settingOverrides, TextWriter output)
    {
        if ((source is null) == (network is null))
            throw new ShimFailure($"domain '{domain}': give exactly one of --source LOWER-DEVICE or --network NAME");
        if (!MacvtapModes.TryParse(mode, out MacvtapMode parsedMode))
            throw new ShimFailure($"domain '{domain}': --mode '{mode}' is not a macvtap mode (bridge, vepa, private, passthru or source)");
        if (source is not null && InterfaceName.Problem(source) is { } problem)
            throw new ShimFailure($"domain '{domain}': --source '{source}' {problem}");
        if (mtu is < 68 or > 65535)
            throw new ShimFailure($"domain '{domain}': --mtu {mtu} is outside 68..65535");
        var request = new AttachRequest(source, network, parsedMode, ParseMac(domain, mac), mtu, live, config);

        using ShimContext context = CliRun.OpenContext(settingOverrides, "attach-interface", domain);
        using LibvirtGuest guest = LibvirtGuest.Open(uri, domain);
        AttachedNic attached = AttachInterface.Run(context, guest, request);
        output.WriteLine($"attached NIC {attached.Nic.Mac} ({attached.Nic.Name}) to domain '{domain}' ({Describe(attached.Scope)})");
        return 0;
    }

    public static int Detach(string domain, string mac, bool live, bool config, int waitSeconds, string? uri, IReadOnlyList<string> settingOverrides,
        TextWriter output)
    {
        var request = new DetachRequest(ParseMac(domain, mac)!.Value, live, config, TimeSpan.FromSeconds(Math.Max(0, waitSeconds)));
        using ShimContext context = CliRun.OpenContext(settingOverrides, "detach-interface", domain);
        using LibvirtGuest guest = LibvirtGuest.Open(uri, domain);
        OwnedNic nic = DetachInterface.Run(context, guest, request);
        output.WriteLine($"detached NIC {nic.Mac} ({nic.Name}) from domain '{domain}'");
        return 0;
    }

    private static MacAddress? ParseMac(string domain, string? mac) =>
        mac is null ? null
        : MacAddress.TryParse(mac.ToLowerInvariant(), out MacAddress parsed) && !parsed.IsMulticast ? parsed
        : throw new ShimFailure($"domain '{domain}': --mac '{mac}' is not a unicast MAC address");

    private static string Describe(GuestScope scope) => string.Join(" and ", GuestScopes.Sides(scope).Select(AttachInterface.SideName));
}
