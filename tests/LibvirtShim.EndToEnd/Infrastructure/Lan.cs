using System.Text.Json;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// The guests' LAN: a network namespace with a bridge (the "switch") that has host addresses, one per subnet a test
/// guest uses (documentation ranges only, so no frame can leave the machine), and the uplink veths' peers as its ports.
/// Both daemons' uplinks are ports of the one switch: a guest stays reachable through a live migration. Everything a
/// test does on the LAN (ping, tcpdump, bridge fdb) runs inside the namespace; only names starting with "e2e-" are made.
/// </summary>
public static class Lan
{
    public const string Namespace = "e2e-lan";
    public const string Bridge = "br0";

    /// <summary>Subnet N of the LAN: the switch's host is .1 / ::1, a guest's NIC on it .10 / ::10 (see <see cref="GuestAddress"/>).</summary>
    private static readonly string[] V4Subnets = ["192.0.2", "198.51.100", "203.0.113"];

    public static int Subnets => V4Subnets.Length;

    public static string HostV4(int subnet) => $"{V4Subnets[subnet]}.1";

    public static string HostV6(int subnet) => $"2001:db8:{subnet}::1";

    /// <summary>The IPv4 and IPv6 address (with prefix lengths) of a guest's NIC on subnet <paramref name="subnet"/>.</summary>
    public static GuestAddress GuestAddress(int subnet, int host = 10) =>
        new($"{V4Subnets[subnet]}.{host}", 24, $"2001:db8:{subnet}::{host:x}", 64);

    /// <summary>Makes the namespace and its switch (after removing a leftover one) and moves each port into it.</summary>
    public static void Create(params string[] ports)
    {
        Delete();
        Cmd.Run("ip", ["netns", "add", Namespace]).MustSucceed($"ip netns add {Namespace}");
        In("ip", "link", "set", "lo", "up").MustSucceed();
        In("ip", "link", "add", Bridge, "type", "bridge").MustSucceed($"creating the switch {Bridge}");
        // IPv6 addresses usable at once (no duplicate-address detection on the switch's host).
        In("sysctl", "-qw", $"net.ipv6.conf.{Bridge}.accept_dad=0").MustSucceed();
        In("ip", "link", "set", Bridge, "up").MustSucceed();
        for (int subnet = 0; subnet < Subnets; subnet++)
        {
            In("ip", "addr", "add", $"{HostV4(subnet)}/24", "dev", Bridge).MustSucceed();
            In("ip", "-6", "addr", "add", $"{HostV6(subnet)}/64", "dev", Bridge, "nodad").MustSucceed();
        }
        foreach (string port in ports) AddPort(port);
    }

    /// <summary>Moves <paramref name="port"/> (a veth end in the host namespace) into the LAN and plugs it into the switch.</summary>
    public static void AddPort(string port)
    {
        if (!port.StartsWith(Veth.Prefix, StringComparison.Ordinal)) throw new ArgumentException($"only {Veth.Prefix}* links are ours: {port}");
        Cmd.Run("ip", ["link", "set", port, "netns", Namespace]).MustSucceed($"moving {port} into {Namespace}");
        In("ip", "link", "set", port, "master", Bridge).MustSucceed();
        In("ip", "link", "set", port, "up").MustSucceed();
    }

    /// <summary>Deletes the namespace (its ports go with it, and so their veth peers and any macvtap on those); no error when absent.</summary>
    public static void Delete()
    {
        if (Exists()) Cmd.Run("ip", ["netns", "del", Namespace]).MustSucceed($"ip netns del {Namespace}");
    }

    public static bool Exists() =>
        Cmd.Run("ip", ["netns", "list"]).Stdout.Split('\n').Any(l => l.Split(' ')[0] == Namespace);

    /// <summary>A command inside the LAN namespace.</summary>
    public static CmdResult In(params string[] command) => In(Cmd.DefaultTimeout, command);

    public static CmdResult In(TimeSpan timeout, params string[] command) =>
        Cmd.Run("ip", ["netns", "exec", Namespace, .. command], timeout);

    /// <summary>The same command inside the namespace, for a <see cref="BackgroundProcess"/>.</summary>
    public static string[] InCommand(params string[] command) => ["ip", "netns", "exec", Namespace, .. command];

    /// <summary>Hairpin on a port: the switch sends frames back out of the port they came in on (what a VEPA lower device needs).</summary>
    public static void Hairpin(string port, bool on) =>
        In("bridge", "link", "set", "dev", port, "hairpin", on ? "on" : "off").MustSucceed($"hairpin {on} on {port}");

    public static void SetMtu(string link, int mtu) => In("ip", "link", "set", link, "mtu", mtu.ToString()).MustSucceed($"mtu {mtu} on {link}");

    /// <summary>One echo request from the switch's host to <paramref name="address"/>, waiting at most a second; true if answered.</summary>
    public static bool Answers(string address, int payload = 56)
    {
        string[] args = ["ping", "-n", "-c", "1", "-W", "1", "-s", payload.ToString()];
        if (payload > 1400) args = [.. args, "-M", "do"];
        return In(TimeSpan.FromSeconds(10), [.. args, address]).Ok;
    }

    /// <summary>Polls (bounded) until <paramref name="address"/> answers pings from the switch's host.</summary>
    public static void WaitAnswers(string address, string what, TimeSpan? timeout = null, int payload = 56) =>
        Poll.Until(() => Answers(address, payload), $"{what}: {address} to answer pings from the LAN ({payload}-byte payload)",
            timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>The MAC the switch's host has for <paramref name="address"/> (its ARP or neighbour table), or null.</summary>
    public static string? NeighbourMac(string address)
    {
        CmdResult r = In("ip", "-j", "neigh", "show", "to", address);
        if (!r.Ok || r.Stdout.Trim().Length == 0) return null;
        using JsonDocument doc = JsonDocument.Parse(r.Stdout);
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            if (e.TryGetProperty("lladdr", out JsonElement mac)) return mac.GetString()?.ToLowerInvariant();
        }
        return null;
    }

    /// <summary>The port the switch has learned <paramref name="mac"/> on (bridge fdb), or null.</summary>
    public static string? PortOf(string mac)
    {
        CmdResult r = In("bridge", "-j", "fdb", "show", "br", Bridge);
        if (!r.Ok) return null;
        using JsonDocument doc = JsonDocument.Parse(r.Stdout);
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            if (e.TryGetProperty("mac", out JsonElement m) && string.Equals(m.GetString(), mac, StringComparison.OrdinalIgnoreCase) &&
                e.TryGetProperty("ifname", out JsonElement port))
                return port.GetString();
        }
        return null;
    }
}

/// <summary>A guest NIC's addresses on the LAN.</summary>
public sealed record GuestAddress(string V4, int V4Prefix, string V6, int V6Prefix);
