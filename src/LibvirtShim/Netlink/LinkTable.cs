using LibvirtShim.Messages;
using LibvirtShim.Net;

namespace LibvirtShim.Netlink;

/// <summary>
/// The links of one network namespace, over one route-netlink socket: dump, find by name, create macvtaps, delete.
/// Kernel errors for single requests come back as <see cref="NetlinkError"/> values lined up with the requests;
/// failures of the socket itself throw a <see cref="ShimFailure"/> naming the request and its links. Not thread-safe.
/// </summary>
internal sealed class LinkTable : IDisposable
{
    private const int MaxDumpAttempts = 10;
    public const int MaxAliasBytes = 255;

    private readonly RouteSocket _socket;

    private LinkTable(RouteSocket socket) => _socket = socket;

    /// <summary>Opens a socket in the calling thread's network namespace; it stays there whatever the thread does later.</summary>
    public static LinkTable Open()
    {
        try
        {
            return new LinkTable(RouteSocket.Open());
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>Every link, from one consistent dump.</summary>
    public IReadOnlyList<Link> Dump() => DumpWhere(keep: null);

    /// <summary>
    /// The links of netdev group <paramref name="group"/>, from one consistent dump of every link: the kernel cannot filter
    /// a dump by group, so every link is sent, and of the others only the group is read (no allocation per link).
    /// </summary>
    public IReadOnlyList<Link> DumpGroup(uint group) =>
        DumpWhere((in NetlinkMessage message) => LinkParser.TryReadGroup(message) == group);

    private IReadOnlyList<Link> DumpWhere(LinkFilter? keep)
    {
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                var links = new List<Link>();
                if (TryDump(keep, links)) return links;
                if (attempt == MaxDumpAttempts)
                    throw new NetlinkException("RTM_GETLINK dump", Errno.EINTR,
                        $"netlink RTM_GETLINK dump was interrupted by link changes {MaxDumpAttempts} times in a row");
            }
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>Every IPv4 and IPv6 address the host holds on any link, from one consistent RTM_GETADDR dump (admin commands only).</summary>
    public IReadOnlyList<HostAddress> Addresses()
    {
        try
        {
            return DumpAddresses();
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    private IReadOnlyList<HostAddress> DumpAddresses()
    {
        for (int attempt = 1; ; attempt++)
        {
            var addresses = new List<HostAddress>();
            uint sequence = _socket.ReserveSequences(1);
            var writer = new NetlinkWriter(64);
            LinkMessages.DumpAddresses(ref writer, sequence);
            if (_socket.Dump(writer.Written, sequence, (_, message) =>
            {
                if (HostAddress.TryRead(message) is { } address) addresses.Add(address);
            }, "RTM_GETADDR dump")) return addresses;
            if (attempt == MaxDumpAttempts)
                throw new NetlinkException("RTM_GETADDR dump", Errno.EINTR,
                    $"netlink RTM_GETADDR dump was interrupted by address changes {MaxDumpAttempts} times in a row");
        }
    }

    /// <summary>
    /// The link of each name, null where there is none (ENODEV). The kernel also matches alternative names
    /// (ip link property add altname), so a link found may have another <see cref="Link.Name"/>.
    /// </summary>
    public IReadOnlyList<Link?> Find(IReadOnlyList<string> names)
    {
        for (int i = 0; i < names.Count; i++) RequireValidName(names[i], nameof(names), i);
        return Look(names, LinkMessages.GetByName, Quote);
    }

    /// <summary>The link of each ifindex, null where there is none (ENODEV), in one batched exchange.</summary>
    public IReadOnlyList<Link?> FindByIndex(IReadOnlyList<int> ifindexes)
    {
        RequireIndexes(ifindexes);
        return Look(ifindexes, LinkMessages.GetByIndex, IndexText);
    }

    /// <summary>One RTM_GETLINK per key in a batched exchange; null where the kernel has no such link.</summary>
    private Link?[] Look<T>(IReadOnlyList<T> keys, RequestWriter<T> request, Func<T, string> subject)
    {
        try
        {
            LinkAnswer[] answers = LinkBatch.Run(_socket, keys, request, "RTM_GETLINK", subject);
            var links = new Link?[keys.Count];
            for (int i = 0; i < answers.Length; i++)
            {
                if (answers[i].Error is { Errno: Errno.ENODEV }) continue;
                if (answers[i].Error is { } error) throw NetlinkException.FromKernel($"RTM_GETLINK {subject(keys[i])}", error);
                links[i] = answers[i].Link ?? throw NetlinkException.Malformed($"RTM_GETLINK {subject(keys[i])} acked without a link");
            }
            return links;
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>Brings links up by ifindex (IFF_UP, nothing else); null where it went up.</summary>
    public IReadOnlyList<NetlinkError?> SetUp(IReadOnlyList<int> ifindexes)
    {
        RequireIndexes(ifindexes);
        try
        {
            return Array.ConvertAll(LinkBatch.Run<int>(_socket, ifindexes, LinkMessages.SetUp, "RTM_NEWLINK up", IndexText), a => a.Error);
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>
    /// Creates the macvtaps: one EXCL create per request (down, MTU and allmulticast as asked), then a lookup by name that
    /// checks the link found is the one created (kind, lower device, mode, group, MAC, MTU), then by ifindex IPv6 address
    /// generation off, alias and up (unless the request says down). Never deletes anything: whatever failed after its create stays, marked with the
    /// request's group. <paramref name="beforeUp"/>: what must be in place before the links are up (see <see cref="MacvtapCreation"/>).
    /// </summary>
    public IReadOnlyList<LinkOutcome> CreateMacvtaps(IReadOnlyList<MacvtapRequest> requests, Action? beforeUp = null)
    {
        for (int i = 0; i < requests.Count; i++)
        {
            RequireValidName(requests[i].Name, nameof(requests), i);
            RequireValidAlias(requests[i].Alias, nameof(requests), i);
        }
        try
        {
            return new MacvtapCreation(_socket, requests, beforeUp).Run();
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>
    /// Brings links up or down by ifindex, in one batched exchange; null where the kernel did it. Only IFF_UP changes: the caller
    /// has checked each link is the one it means (its marks), by the ifindex it found it under.
    /// </summary>
    public IReadOnlyList<NetlinkError?> SetUpDown(IReadOnlyList<LinkUpDown> changes)
    {
        for (int i = 0; i < changes.Count; i++)
        {
            if (changes[i].Index <= 0)
                throw new ArgumentOutOfRangeException(nameof(changes), $"changes[{i}].Index is {changes[i].Index}, not a link index");
        }
        try
        {
            LinkAnswer[] answers = LinkBatch.Run<LinkUpDown>(_socket, changes, LinkMessages.SetUpDown, "RTM_NEWLINK up/down",
                c => $"ifindex {c.Index} {(c.Up ? "up" : "down")}");
            return Array.ConvertAll(answers, answer => answer.Error);
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>Deletes links by ifindex; null where the link was deleted.</summary>
    public IReadOnlyList<NetlinkError?> Delete(IReadOnlyList<int> ifindexes)
    {
        RequireIndexes(ifindexes);
        try
        {
            LinkAnswer[] answers = LinkBatch.Run<int>(_socket, ifindexes, LinkMessages.DeleteByIndex, "RTM_DELLINK", IndexText);
            return Array.ConvertAll(answers, answer => answer.Error);
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>
    /// Deletes every link of <paramref name="group"/> in one request. The kernel answers ENODEV when the group is empty,
    /// and EOPNOTSUPP (deleting nothing) when a member cannot be deleted.
    /// </summary>
    public NetlinkError? DeleteGroup(uint group)
    {
        if (group == 0) throw new ArgumentOutOfRangeException(nameof(group), "group 0 is every link's default group");
        try
        {
            return LinkBatch.Run<uint>(_socket, [group], LinkMessages.DeleteGroup, "RTM_DELLINK", g => $"group {g}")[0].Error;
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>One dump, of which <paramref name="keep"/> (when given) picks the links to read; false when the kernel says it was interrupted.</summary>
    private bool TryDump(LinkFilter? keep, List<Link> links)
    {
        uint sequence = _socket.ReserveSequences(1);
        var writer = new NetlinkWriter(128);
        LinkMessages.Dump(ref writer, sequence);
        return _socket.Dump(writer.Written, sequence, (_, message) =>
        {
            if ((keep is null || keep(message)) && LinkParser.TryRead(message) is { } link) links.Add(link);
        }, "RTM_GETLINK dump");
    }

    private delegate bool LinkFilter(in NetlinkMessage message);

    /// <summary>
    /// Checked up front because the alias is set after the create: a bad one would leave a link without its alias.
    /// </summary>
    private static void RequireValidAlias(string alias, string parameter, int position)
    {
        if (alias.Contains('\0'))
            throw new ArgumentException($"{parameter}[{position}]: alias contains a NUL character", parameter);
        if (System.Text.Encoding.UTF8.GetByteCount(alias) > MaxAliasBytes)
            throw new ArgumentException($"{parameter}[{position}]: alias is longer than {MaxAliasBytes} bytes (IFALIASZ - 1)", parameter);
    }

    internal static string Quote(string name) => $"'{name}'";

    private static string IndexText(int index) => $"ifindex {index}";

    private static void RequireIndexes(IReadOnlyList<int> ifindexes)
    {
        for (int i = 0; i < ifindexes.Count; i++)
        {
            if (ifindexes[i] <= 0) throw new ArgumentOutOfRangeException(nameof(ifindexes), $"ifindexes[{i}] is {ifindexes[i]}, not a link index");
        }
    }

    private static void RequireValidName(string name, string parameter, int position)
    {
        if (InterfaceName.Problem(name) is { } problem)
            throw new ArgumentException($"{parameter}[{position}]: link name '{name}' {problem}", parameter);
    }
}
