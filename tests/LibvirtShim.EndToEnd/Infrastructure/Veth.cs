namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// veth pairs in the host namespace (libvirt and the hook need their lower devices there), one end as a guest's lower
/// device. Only names starting with "e2e-" are ever created or deleted here.
/// </summary>
public static class Veth
{
    public const string Prefix = "e2e-";

    /// <summary>Creates NAME/NAMEp (both up) unless NAME exists; returns NAME.</summary>
    public static string Ensure(string name)
    {
        Guard(name);
        string peer = name + "p";
        if (!IpLinks.Exists(name))
            Cmd.Run("ip", ["link", "add", name, "type", "veth", "peer", "name", peer]).MustSucceed($"creating veth {name}");
        // By default the host answers ARP on any link for any of its addresses: on this end, whose peer is a port of the LAN,
        // it claimed a guest's 192.0.2.10 because the host's own eth0 held that address too.
        Cmd.Run("sysctl", ["-qw", $"net.ipv4.conf.{name}.arp_ignore=1"]).MustSucceed($"arp_ignore on {name}");
        Cmd.Run("ip", ["link", "set", name, "up"]).MustSucceed();
        Cmd.Run("ip", ["link", "set", peer, "up"]).MustSucceed();
        return name;
    }

    /// <summary>Deletes NAME (its peer and every macvtap on it go with it); no error when absent.</summary>
    public static void Delete(string name)
    {
        Guard(name);
        if (IpLinks.Exists(name)) Cmd.Run("ip", ["link", "del", name]);
    }

    /// <summary>Every veth end whose name starts with "e2e-" (leftovers of an interrupted run).</summary>
    public static void DeleteAllOurs()
    {
        foreach (KernelLink link in IpLinks.All().Where(l => l.Name.StartsWith(Prefix, StringComparison.Ordinal) && l.Kind == "veth"))
        {
            if (IpLinks.Exists(link.Name)) Cmd.Run("ip", ["link", "del", link.Name]);
        }
    }

    private static void Guard(string name)
    {
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || name.Length > 14)
            throw new ArgumentException($"test veth names start with '{Prefix}' and leave room for the 'p' of the peer: {name}");
    }
}
