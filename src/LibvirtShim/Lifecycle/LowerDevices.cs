using System.Diagnostics.CodeAnalysis;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Which local device an owned NIC sits on: its source mapped through <c>Uplinks</c>, or its network looked up in
/// <c>Networks</c>; and whether <c>AllowedLowerDevices</c> lets the hook use it.
/// </summary>
internal static class LowerDevices
{
    public static string Map(ShimSettings settings, string device) => LowerDeviceMapping.Map(settings, device);

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

    private const string AnEthernetDevice = "give an Ethernet device (the host's uplink, a bridge, a bond) as the source";

    /// <summary>
    /// Why <paramref name="lower"/> cannot carry a macvtap, or null when it can: not an Ethernet device (loopback, a
    /// tunnel, tun), itself a macvlan or macvtap (the kernel would stack the new one on the device below without a word)
    /// or an ipvlan, or a port of a bridge, bond, team or Open vSwitch, which holds the device's receive handler (the
    /// kernel's EBUSY). A VRF's port can carry one. <paramref name="related"/> holds, by ifindex, the links
    /// <see cref="Related"/> names.
    /// </summary>
    public static LowerDeviceProblem? Unfit(Link lower, IReadOnlyDictionary<int, Link> related)
    {
        if (lower.Type == RtnetlinkProtocol.ARPHRD_LOOPBACK) return new(lower.Name, "is the loopback device", AnEthernetDevice);
        if (lower.Type != RtnetlinkProtocol.ARPHRD_ETHER)
            return new(lower.Name, $"is not an Ethernet device (link type {TypeName(lower.Type)})", AnEthernetDevice);
        string? below = related.TryGetValue(lower.LowerIndex, out Link b) ? b.Name : null;
        string on = below is null ? "" : $" (on {below})";
        if (lower.Kind is "macvlan" or RtnetlinkProtocol.MacvtapKind)
            return new(lower.Name, $"is itself a {lower.Kind}{on}", $"give {below ?? "the device it sits on"} as the source");
        if (lower.Kind is "ipvlan" or "ipvtap")
            return new(lower.Name, $"is an ipvlan{on}", "give a device that carries no ipvlan as the source");
        if (lower.Master == 0) return null;
        Link? master = related.TryGetValue(lower.Master, out Link m) ? m : null;
        string kind = master?.Kind ?? "a master device", name = master?.Name ?? $"ifindex {lower.Master}";
        return kind switch
        {
            "vrf" => null,
            "bridge" or "bond" or "team" => new(lower.Name, $"is a port of {kind} {name}", $"give {name} as the source"),
            _ => new(lower.Name, $"is a port of {kind} {name}, which takes every frame it receives",
                $"take it out of {name}, or give another device as the source"),
        };
    }

    /// <summary>The ifindexes <see cref="Unfit"/> needs besides the lower devices: their masters and the devices stacked ones sit on.</summary>
    public static List<int> Related(IEnumerable<Link> lowers) =>
        lowers.SelectMany(l => new[] { l.Master, l.Kind is "macvlan" or RtnetlinkProtocol.MacvtapKind or "ipvlan" or "ipvtap" ? l.LowerIndex : 0 })
            .Where(i => i > 0).Distinct().ToList();

    /// <summary>The links of <paramref name="ifindexes"/> by ifindex, in one batch (none when there is nothing to look up).</summary>
    public static Dictionary<int, Link> FindRelated(LinkTable table, List<int> ifindexes)
    {
        var found = new Dictionary<int, Link>();
        if (ifindexes.Count == 0) return found;
        IReadOnlyList<Link?> links = table.FindByIndex(ifindexes);
        for (int i = 0; i < ifindexes.Count; i++)
        {
            if (links[i] is { } link) found[ifindexes[i]] = link;
        }
        return found;
    }

    /// <summary>ip-link's name of an ARPHRD_* type, or its number.</summary>
    private static string TypeName(ushort type) => type switch
    {
        65534 => "none",
        768 => "ipip",
        769 => "tunnel6",
        776 => "sit",
        778 => "gre",
        823 => "ip6gre",
        32 => "infiniband",
        280 => "can",
        _ => type.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static bool IsAllowed(ShimSettings settings, string lower) =>
        settings.AllowedLowerDevices.Length == 0 || settings.AllowedLowerDevices.Contains(lower, StringComparer.Ordinal);

    private static string NotAllowed(ShimSettings settings, string subject) =>
        $"{subject} is not in AllowedLowerDevices ({string.Join(", ", settings.AllowedLowerDevices)})";
}

/// <summary>An owned NIC's lower device on this host (<see cref="Device"/>), or the line saying why it has none (<see cref="Problem"/>).</summary>
internal readonly record struct ResolvedLower(string? Device, string? Problem);

/// <summary>Why a lower device cannot carry a macvtap (<see cref="Reason"/>, after its name) and what to give instead.</summary>
internal readonly record struct LowerDeviceProblem(string Device, string Reason, string Fix)
{
    /// <summary>"lower device uplink0 is a port of bridge br0: give br0 as the source".</summary>
    public string Line => $"lower device {Device} {Reason}: {Fix}";
}
