using System.Buffers.Binary;
using LibvirtShim.Netlink;
using static LibvirtShim.Netfilter.NfTablesProtocol;

namespace LibvirtShim.Netfilter;

/// <summary>A netdev table: its name and the comment its user data carries (null when it has none).</summary>
internal readonly record struct GuardTable(string Name, string? Comment);

/// <summary>A netdev chain: its table, its name, the device it is hooked to (null for a regular chain) and its comment.</summary>
internal readonly record struct GuardChain(string Table, string Name, string? Device, string? Comment);

/// <summary>
/// The request of a transaction that the kernel refused, and its answer; the whole transaction was undone.
/// <see cref="TableTaken"/>: the request that failed was the table's own, exclusive creation and the name is taken (EEXIST).
/// </summary>
internal readonly record struct Refusal(string Request, NetlinkError Error, bool TableTaken = false)
{
    public string Describe() => $"{Request}: {Error.Describe()}";
}

/// <summary>
/// The nf_tables netdev tables of one network namespace, over one NETLINK_NETFILTER socket: changes in transactions
/// (one batch, all or nothing, one round to the kernel), reads by name or by dump. Written for the guards: tables, chains
/// hooked to a device's egress, rules of payload, meta, bitwise, cmp, counter and immediate expressions. Failures of the
/// socket itself throw a <see cref="ShimFailure"/>; a refused request comes back as a <see cref="Refusal"/>. Not thread-safe.
/// </summary>
internal sealed class GuardTables : IDisposable
{
    private const int MaxDumpAttempts = 10;
    private const int BytesPerRequestEstimate = 192;

    private readonly RouteSocket _socket;

    private GuardTables(RouteSocket socket) => _socket = socket;

    /// <summary>Opens the socket in the calling thread's network namespace.</summary>
    public static GuardTables Open()
    {
        try
        {
            return new GuardTables(RouteSocket.Open(Interop.Libc.NETLINK_NETFILTER));
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>
    /// One transaction: the table created, or with <paramref name="replace"/> deleted and created again, so what was in it goes
    /// in the same instant the new content arrives (without, the name must be free: EEXIST); then its sets and their elements,
    /// then each chain with its rules in order. <paramref name="generation"/> (from <see cref="Find"/>): refused with ERESTART if
    /// the ruleset changed since. Null when the kernel committed it.
    /// </summary>
    public Refusal? Install(string table, string comment, bool replace, TableSpec content, uint? generation)
    {
        var requests = new List<Request>();
        if (replace)
            requests.Add(new Request($"delete table netdev {table}", (ref NetlinkWriter w, uint s) => NfTablesMessages.DeleteTable(ref w, s, table)));
        requests.Add(new Request($"add table netdev {table}",
            (ref NetlinkWriter w, uint s) => NfTablesMessages.NewTable(ref w, s, table, comment, exclusive: !replace), CreatesTable: !replace));
        for (int i = 0; i < content.Sets.Count; i++)
        {
            SetSpec set = content.Sets[i];
            uint id = (uint)i + 1;
            requests.Add(new Request($"add set {set.Name}", (ref NetlinkWriter w, uint s) => NfTablesMessages.NewSet(ref w, s, table, set, id)));
            foreach (SetElement[] chunk in set.Elements.Chunk(NfTablesMessages.MaxElementsPerMessage))
                requests.Add(new Request($"add {chunk.Length} elements to set {set.Name}",
                    (ref NetlinkWriter w, uint s) => NfTablesMessages.NewSetElements(ref w, s, table, set.Name, chunk)));
        }
        foreach (ChainSpec chain in content.Chains)
        {
            requests.Add(new Request($"add chain {chain.Name}", (ref NetlinkWriter w, uint s) => NfTablesMessages.NewChain(ref w, s, table, chain)));
            for (int i = 0; i < chain.Rules.Count; i++)
            {
                Rule rule = chain.Rules[i];
                requests.Add(new Request($"add rule {i + 1} to chain {chain.Name}",
                    (ref NetlinkWriter w, uint s) => NfTablesMessages.NewRule(ref w, s, table, chain.Name, rule)));
            }
        }
        return Transact(requests, generation);
    }

    /// <summary>Deletes a table with all it holds, in one transaction (see <see cref="Install"/> for <paramref name="generation"/>).</summary>
    public Refusal? DeleteTable(string table, uint? generation) =>
        Transact([new Request($"delete table netdev {table}", (ref NetlinkWriter w, uint s) => NfTablesMessages.DeleteTable(ref w, s, table))],
            generation);

    /// <summary>The netdev table <paramref name="name"/> (null when there is none) and the ruleset's generation, in one round.</summary>
    public (GuardTable? Table, uint Generation) Find(string name)
    {
        try
        {
            uint first = _socket.ReserveSequences(2);
            var writer = new NetlinkWriter(256);
            NfTablesMessages.GetTable(ref writer, first, name);
            NfTablesMessages.GetGeneration(ref writer, first + 1);
            GuardTable? found = null;
            uint generation = 0;
            NetlinkError?[] errors = _socket.Exchange(writer.Written, first, 2, (request, message) =>
            {
                if (request == 0 && ReadTable(message) is { } table) found = table;
                if (request == 1 && ReadGeneration(message) is { } id) generation = id;
            });
            if (errors[0] is { Errno: not Errno.ENOENT } tableError) throw NetlinkException.FromKernel($"get table netdev {name}", tableError);
            if (errors[1] is { } genError) throw NetlinkException.FromKernel("get generation", genError);
            return (errors[0] is null ? found : null, generation);
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    /// <summary>Every netdev table, from one consistent dump.</summary>
    public IReadOnlyList<GuardTable> Tables() => DumpAll(NFT_MSG_GETTABLE, "dump of netdev tables", ReadTable);

    /// <summary>Every netdev chain, from one consistent dump.</summary>
    public IReadOnlyList<GuardChain> Chains() => DumpAll(NFT_MSG_GETCHAIN, "dump of netdev chains", ReadChain);

    public void Dispose() => _socket.Dispose();

    private delegate void RequestWriter(ref NetlinkWriter writer, uint sequence);

    private readonly record struct Request(string What, RequestWriter Write, bool CreatesTable = false);

    private delegate T? Reader<T>(NetlinkMessage message) where T : struct;

    /// <summary>BEGIN, the requests, END, in one send, then the generation as a fence; the first refusal, in request order.</summary>
    private Refusal? Transact(List<Request> requests, uint? generation)
    {
        try
        {
            uint begin = _socket.ReserveSequences(requests.Count + 3);
            var writer = new NetlinkWriter(64 + requests.Count * BytesPerRequestEstimate);
            NfTablesMessages.BatchBegin(ref writer, begin, generation);
            for (int i = 0; i < requests.Count; i++) requests[i].Write(ref writer, begin + 1 + (uint)i);
            NfTablesMessages.BatchEnd(ref writer, begin + 1 + (uint)requests.Count);
            uint fence = begin + 2 + (uint)requests.Count;
            var fenceWriter = new NetlinkWriter(64);
            NfTablesMessages.GetGeneration(ref fenceWriter, fence);

            var refused = new SortedList<uint, NetlinkError>();
            NetlinkError? fenceError = _socket.ExchangeFenced(writer.Written, fenceWriter.Written, fence, message =>
            {
                uint index = unchecked(message.Sequence - begin);
                if (message.Type == Netlink.NetlinkProtocol.NLMSG_ERROR && index <= requests.Count + 1
                    && NetlinkAck.ReadError(message) is { } error && !refused.ContainsKey(index))
                    refused.Add(index, error);
            });
            if (fenceError is { } failed) throw NetlinkException.FromKernel("get generation", failed);
            if (refused.Count == 0) return null;
            (uint at, NetlinkError first) = (refused.Keys[0], refused.Values[0]);
            string what = at == 0 ? "the transaction" : at > requests.Count ? "the end of the transaction" : requests[(int)at - 1].What;
            return new Refusal(what, first, at > 0 && at <= requests.Count && requests[(int)at - 1].CreatesTable && first.Errno == Errno.EEXIST);
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    private IReadOnlyList<T> DumpAll<T>(byte request, string what, Reader<T> read) where T : struct
    {
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                var found = new List<T>();
                uint sequence = _socket.ReserveSequences(1);
                var writer = new NetlinkWriter(64);
                NfTablesMessages.Dump(ref writer, sequence, request);
                if (_socket.Dump(writer.Written, sequence, (_, message) =>
                {
                    if (read(message) is { } item) found.Add(item);
                }, what)) return found;
                if (attempt == MaxDumpAttempts)
                    throw new NetlinkException(what, Errno.EINTR, $"netlink {what} was interrupted by changes {MaxDumpAttempts} times in a row");
            }
        }
        catch (NetlinkException e)
        {
            throw e.Reported();
        }
    }

    private static NetlinkAttributeReader Attributes(NetlinkMessage message) =>
        new(message.Payload.Length >= NfGenMsgLength ? message.Payload[NfGenMsgLength..] : default);

    /// <summary>A netdev table from NFT_MSG_NEWTABLE; null for any other message or family.</summary>
    private static GuardTable? ReadTable(NetlinkMessage message)
    {
        if (message.Type != Type(NFT_MSG_NEWTABLE) || message.Payload.Length < NfGenMsgLength || message.Payload[0] != NFPROTO_NETDEV)
            return null;
        string? name = null;
        string? comment = null;
        foreach (NetlinkAttribute attribute in Attributes(message))
        {
            if (attribute.Type == NFTA_TABLE_NAME) name = attribute.AsString();
            else if (attribute.Type == NFTA_TABLE_USERDATA) comment = ReadComment(attribute.Value);
        }
        return name is null ? null : new GuardTable(name, comment);
    }

    /// <summary>A netdev chain from NFT_MSG_NEWCHAIN; null for any other message or family.</summary>
    private static GuardChain? ReadChain(NetlinkMessage message)
    {
        if (message.Type != Type(NFT_MSG_NEWCHAIN) || message.Payload.Length < NfGenMsgLength || message.Payload[0] != NFPROTO_NETDEV)
            return null;
        string? table = null, name = null, device = null, comment = null;
        foreach (NetlinkAttribute attribute in Attributes(message))
        {
            switch (attribute.Type)
            {
                case NFTA_CHAIN_TABLE: table = attribute.AsString(); break;
                case NFTA_CHAIN_NAME: name = attribute.AsString(); break;
                case NFTA_CHAIN_USERDATA: comment = ReadComment(attribute.Value); break;
                case NFTA_CHAIN_HOOK:
                    foreach (NetlinkAttribute hook in attribute.Nested())
                    {
                        if (hook.Type == NFTA_HOOK_DEV) device = hook.AsString();
                    }
                    break;
            }
        }
        return table is null || name is null ? null : new GuardChain(table, name, device, comment);
    }

    private static uint? ReadGeneration(NetlinkMessage message)
    {
        if (message.Type != Type(NFT_MSG_NEWGEN)) return null;
        foreach (NetlinkAttribute attribute in Attributes(message))
        {
            if (attribute.Type == NFTA_GEN_ID && attribute.Value.Length >= 4) return BinaryPrimitives.ReadUInt32BigEndian(attribute.Value);
        }
        return null;
    }

    /// <summary>The first comment TLV of user data (NUL-terminated text), or null.</summary>
    private static string? ReadComment(ReadOnlySpan<byte> userData)
    {
        while (userData.Length >= 2)
        {
            int length = userData[1];
            if (2 + length > userData.Length) return null;
            if (userData[0] == UserDataComment && length > 0)
            {
                ReadOnlySpan<byte> text = userData.Slice(2, length);
                int end = text.IndexOf((byte)0);
                return System.Text.Encoding.UTF8.GetString(end < 0 ? text : text[..end]);
            }
            userData = userData[(2 + length)..];
        }
        return null;
    }
}
