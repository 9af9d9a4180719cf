using System.Diagnostics.CodeAnalysis;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Session;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Which local device an owned NIC sits on: its source mapped through <c>Uplinks</c>, or its network looked up in
/// <c>Networks</c>; and whether <c>AllowedLowerDevices</c> lets the hook use it.
/// </summary>
internal static class LowerDevices
{
    public static string Map(ShimSettings settings, string device) =>
        settings.Uplinks.TryGetValue(device, out string? local) ? local : device;

    /// <summary>The NIC's lower device, or (false) the line that says why it has none on this host.</summary>
    public static bool TryResolve(ShimSettings settings, DomainDescription domain, OwnedNic nic,
        [NotNullWhen(true)] out string? lower, [NotNullWhen(false)] out string? problem)
    {
        if (nic.Network is { } network)
        {
            if (!settings.Networks.TryGetValue(network, out lower))
            {
                problem = $"{Describe.Nic(domain, nic)}: network '{DomainReader.Shorten(network)}' is not in this host's Networks setting";
                return false;
            }
        }
        else
        {
            lower = Map(settings, nic.Source!);
        }
        if (IsAllowed(settings, lower))
        {
            problem = null;
            return true;
        }
        problem = NotAllowed(settings, $"{Describe.Nic(domain, nic)}: lower device '{lower}'");
        return false;
    }

    /// <summary>Each owned NIC's lower device, or why it has none, in the order of <see cref="DomainDescription.OwnedNics"/>.</summary>
    public static ResolvedLower[] ResolveAll(ShimSettings settings, DomainDescription domain)
    {
        var lowers = new ResolvedLower[domain.OwnedNics.Count];
        for (int i = 0; i < lowers.Length; i++)
        {
            lowers[i] = TryResolve(settings, domain, domain.OwnedNics[i], out string? lower, out string? problem)
                ? new ResolvedLower(lower, null) : new ResolvedLower(null, problem);
        }
        return lowers;
    }

    /// <summary>The NIC's lower device; a failure when it has none.</summary>
    public static string Resolve(ShimSettings settings, DomainDescription domain, OwnedNic nic) =>
        TryResolve(settings, domain, nic, out string? lower, out string? problem) ? lower : throw new ShimFailure(problem);

    public static void CheckAllowed(ShimSettings settings, string lower, string subject)
    {
        if (!IsAllowed(settings, lower)) throw new ShimFailure(NotAllowed(settings, subject));
    }

    private static bool IsAllowed(ShimSettings settings, string lower) =>
        settings.AllowedLowerDevices.Length == 0 || settings.AllowedLowerDevices.Contains(lower, StringComparer.Ordinal);

    private static string NotAllowed(ShimSettings settings, string subject) =>
        $"{subject} is not in AllowedLowerDevices ({string.Join(", ", settings.AllowedLowerDevices)})";
}

/// <summary>An owned NIC's lower device on this host (<see cref="Device"/>), or the line saying why it has none (<see cref="Problem"/>).</summary>
internal readonly record struct ResolvedLower(string? Device, string? Problem);
