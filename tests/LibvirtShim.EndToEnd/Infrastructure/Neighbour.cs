namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// A guest's co-located neighbour, cheaply: a bridge-mode macvlan on a host's uplink, moved into a network namespace of its own
/// with an address on each LAN subnet. macvlan and macvtap ports of one lower device in bridge mode deliver to each other inside
/// the host; a port that is down is not in the lower device's table, so frames for its MAC go out to the switch instead.
/// </summary>
public sealed class Neighbour : IDisposable
{
    public const string Prefix = "e2e-nbr";

    private Neighbour(string netns, string uplink)
    {
        Netns = netns;
        Uplink = uplink;
    }

    /// <summary>The namespace (and the macvlan's name in it): "e2e-nbr" + <paramref name="number"/>.</summary>
    public string Netns { get; }

    public string Uplink { get; }

    /// <summary>Makes it on <paramref name="uplink"/>, host address .<paramref name="host"/> on every LAN subnet, and waits until it answers
    /// the LAN host.</summary>
    public static Neighbour Create(int number, string uplink, int host)
    {
        string netns = Prefix + number;
        Delete(netns);
        Cmd.Run("ip", ["netns", "add", netns]).MustSucceed($"ip netns add {netns}");
        var neighbour = new Neighbour(netns, uplink);
        try
        {
            neighbour.In("ip", "link", "set", "lo", "up").MustSucceed();
            Cmd.Run("ip", ["link", "add", netns, "link", uplink, "type", "macvlan", "mode", "bridge"]).MustSucceed($"macvlan {netns} on {uplink}");
            Cmd.Run("ip", ["link", "set", netns, "netns", netns]).MustSucceed($"moving {netns} into its namespace");
            for (int subnet = 0; subnet < Lan.Subnets; subnet++)
                neighbour.In("ip", "addr", "add", $"{Lan.GuestAddress(subnet, host).V4}/24", "dev", netns).MustSucceed();
            neighbour.In("ip", "link", "set", netns, "up").MustSucceed();
            Lan.WaitAnswers(Lan.GuestAddress(0, host).V4, $"neighbour {netns} on {uplink}");
            return neighbour;
        }
        catch
        {
            neighbour.Dispose();
            throw;
        }
    }

    public CmdResult In(params string[] command) => Cmd.Run("ip", ["netns", "exec", Netns, .. command]);

    public void Dispose() => Delete(Netns);

    /// <summary>Deletes a neighbour's namespace (its macvlan goes with it); nothing when absent.</summary>
    public static void Delete(string netns)
    {
        if (Cmd.Run("ip", ["netns", "list"]).Stdout.Split('\n').Any(l => l.Split(' ')[0] == netns))
            Cmd.Run("ip", ["netns", "del", netns]).MustSucceed($"ip netns del {netns}");
    }

    /// <summary>Every neighbour namespace an interrupted run left.</summary>
    public static void DeleteAll()
    {
        foreach (string netns in Cmd.Run("ip", ["netns", "list"]).Stdout.Split('\n').Select(l => l.Split(' ')[0])
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
            Delete(netns);
    }
}
