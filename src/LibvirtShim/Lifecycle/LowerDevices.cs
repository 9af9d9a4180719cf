using LibvirtShim.Configuration;
using LibvirtShim.Domain;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Which local device an owned NIC sits on: its source mapped through <c>Uplinks</c>, or its network looked up in
/// <c>Networks</c>; and whether <c>AllowedLowerDevices</c> lets the hook use it.
/// </summary>
internal static class LowerDevices
{
    public static string Map(ShimSettings settings, string device) =>
        settings.Uplinks.TryGetValue(device, out string? local) ? local : device;

    public static string Resolve(ShimSettings settings, DomainDescription domain, OwnedNic nic)
    {
        string lower;
        if (nic.Network is { } network)
        {
            if (!settings.Networks.TryGetValue(network, out string? device))
                throw new ShimException($"{Describe.Nic(domain, nic)}: " +
                    $"network '{DomainReader.Shorten(network)}' is not in this host's Networks setting");
            lower = device;
        }
        else
        {
            lower = Map(settings, nic.Source!);
        }
        CheckAllowed(settings, lower, $"{Describe.Nic(domain, nic)}: lower device '{lower}'");
        return lower;
    }

    public static void CheckAllowed(ShimSettings settings, string lower, string subject)
    {
        if (settings.AllowedLowerDevices.Length > 0 && !settings.AllowedLowerDevices.Contains(lower, StringComparer.Ordinal))
            throw new ShimException($"{subject} is not in AllowedLowerDevices ({string.Join(", ", settings.AllowedLowerDevices)})");
    }
}
