namespace LibvirtShim.Configuration;

/// <summary>Which device of this host a NIC's lower device is: its source through <c>Uplinks</c>, its network through <c>Networks</c>.</summary>
internal static class LowerDeviceMapping
{
    /// <summary>A source device as it arrives, mapped to this host's (itself when <c>Uplinks</c> does not name it).</summary>
    public static string Map(ShimSettings settings, string device) =>
        settings.Uplinks.TryGetValue(device, out string? local) ? local : device;

    /// <summary>
    /// The device on this host of a NIC given by <paramref name="source"/> or <paramref name="network"/>; null for a network
    /// not in <c>Networks</c>.
    /// </summary>
    public static string? Local(ShimSettings settings, string? source, string? network) =>
        network is not null ? settings.Networks.GetValueOrDefault(network) : source is null ? null : Map(settings, source);
}
