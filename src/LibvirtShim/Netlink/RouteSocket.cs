using static Interop.Libc;

namespace LibvirtShim.Netlink;

/// <summary>Called for each data message the kernel sends in answer to request number <paramref name="request"/> of a batch.</summary>
internal delegate void ReplyHandler(int request, NetlinkMessage message);

/// <summary>What <see cref="RouteSocket.ReceiveAnnouncements"/> heard.</summary>
internal enum Announcements { None, Received, Lost }

/// <summary>Called for each message that arrives before a fence's ack (<see cref="RouteSocket.ExchangeFenced"/>).</summary>
internal delegate void MessageHandler(NetlinkMessage message);

/// <summary>
/// A bound NETLINK_ROUTE socket with extended acks and strict checking. Requests go out in batches (many messages
/// in one send); every request asks for an ack, and answers are matched back to requests by sequence number.
/// </summary>
internal sealed class RouteSocket : IDisposable
{
    /// <summary>
    /// Requests per send. The kernel answers a whole send before we read anything, so the answers must fit the receive
    /// buffer (or the kernel drops them, ENOBUFS): 64 creates or lookups fit even the default 208 KiB one.
    /// </summary>
    public const int MaxBatch = 64;

    /// <summary>Head room on top of that (the kernel doubles it for bookkeeping).</summary>
    private const int ReceiveBufferBytes = 1 << 20;

    /// <summary>
    /// Room for one datagram, which recvmmsg cannot peek at. The kernel sends a dump in parts of 32 KiB, or of one message
    /// where a message is longer; the longest link message is one whose alternative names fill IFLA_PROP_LIST, which the
    /// kernel stops at 64 KiB ("effective property list too long"): 66.6 KB with 496 of them. VF lists, the other long
    /// part, are never asked for. A longer datagram would be cut, and fails the exchange as malformed, never misread.
    /// </summary>
    private const int SlotBytes = 128 << 10;

    /// <summary>
    /// Datagrams per receive call (recvmmsg): a batch's answers come in a few calls rather than one (and a peek) per
    /// datagram (system calls counted in bench/RESULTS.md).
    /// </summary>
    private const int SlotsPerReceive = 16;

    private readonly SafeSocketHandle _handle;
    private readonly byte[] _slots = GC.AllocateUninitializedArray<byte>(SlotBytes * SlotsPerReceive);
    private readonly int[] _lengths = new int[SlotsPerReceive];
    private uint _nextSequence = 1;
    private int _sendBuffer;

    private RouteSocket(SafeSocketHandle handle) => _handle = handle;

    /// <summary>Opens the socket in the calling thread's network namespace.</summary>
    public static RouteSocket Open() => Open(NETLINK_ROUTE);

    /// <summary>Opens a socket of another netlink family (NETLINK_NETFILTER) the same way, in the calling thread's network namespace.</summary>
    public static RouteSocket Open(int protocol)
    {
        SafeSocketHandle handle = OpenNetlinkSocket(protocol, out Errno errno);
        if (handle.IsInvalid) throw NetlinkException.FromErrno("socket(AF_NETLINK)", errno);
        try
        {
            Require(SetSocketOption(handle, SOL_NETLINK, NETLINK_EXT_ACK, 1), "setsockopt(NETLINK_EXT_ACK)");
            Require(SetSocketOption(handle, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1), "setsockopt(NETLINK_GET_STRICT_CHK)");
            Require(SetSocketOption(handle, SOL_NETLINK, NETLINK_CAP_ACK, 1), "setsockopt(NETLINK_CAP_ACK)");
            EnlargeReceiveBuffer(handle);
            Require(BindNetlink(handle), "bind(AF_NETLINK)");
            return new RouteSocket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a NETLINK_ROUTE socket (in the calling thread's network namespace) that hears the kernel's announcements of
    /// <paramref name="group"/> (RTNLGRP_LINK); <see cref="ReceiveAnnouncements"/> waits at most <paramref name="wake"/> for them.
    /// </summary>
    public static RouteSocket OpenAnnouncements(int group, TimeSpan wake)
    {
        RouteSocket socket = Open();
        try
        {
            Require(SetSocketOption(socket._handle, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group), "setsockopt(NETLINK_ADD_MEMBERSHIP)");
            Require(SetReceiveTimeout(socket._handle, wake), "setsockopt(SO_RCVTIMEO)");
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// On a socket of <see cref="OpenAnnouncements"/>: hands each announcement that arrives to <paramref name="onMessage"/>.
    /// <see cref="Announcements.None"/> when none came in the wake interval; <see cref="Announcements.Lost"/> when the kernel
    /// dropped some because the receive buffer was full (ENOBUFS: what they said must be looked up again). Throws on anything else.
    /// </summary>
    public Announcements ReceiveAnnouncements(MessageHandler onMessage)
    {
        Errno errno = ReceiveDatagrams(_handle, _slots, SlotBytes, _lengths, out int count);
        if (errno == Errno.EAGAIN) return Announcements.None;
        if (errno == Errno.ENOBUFS) return Announcements.Lost;
        if (errno != Errno.None) throw NetlinkException.FromErrno("recvmmsg", errno);
        for (int i = 0; i < count; i++)
        {
            if (_lengths[i] > SlotBytes) return Announcements.Lost;   // cut: what it said is looked up again
        }
        foreach (NetlinkMessage message in new ReceivedMessages(_slots, _lengths.AsSpan(0, count)))
        {
            if (message.Type is not (NetlinkProtocol.NLMSG_NOOP or NetlinkProtocol.NLMSG_DONE)) onMessage(message);
        }
        return Announcements.Received;
    }

    /// <summary>Reserves <paramref name="count"/> consecutive sequence numbers; returns the first (wrapping is harmless).</summary>
    public uint ReserveSequences(int count)
    {
        uint first = _nextSequence;
        _nextSequence = unchecked(_nextSequence + (uint)count);
        return first;
    }

    /// <summary>
    /// Sends <paramref name="batch"/> (<paramref name="count"/> requests numbered from <paramref name="firstSequence"/>,
    /// each with NLM_F_ACK) and receives until every request is acked. Returns each request's error, null where it
    /// succeeded; data messages go to <paramref name="onReply"/>.
    /// </summary>
    public NetlinkError?[] Exchange(ReadOnlySpan<byte> batch, uint firstSequence, int count, ReplyHandler? onReply = null)
    {
        if (count > MaxBatch) throw new ArgumentOutOfRangeException(nameof(count), $"{count} requests in one batch, at most {MaxBatch}");
        Send(batch);

        var errors = new NetlinkError?[count];
        var acked = new bool[count];
        for (int pending = count; pending > 0;)
        {
            foreach (NetlinkMessage message in ReceiveWaiting())
            {
                uint request = unchecked(message.Sequence - firstSequence);
                if (request >= (uint)count) continue;   // an answer to an earlier, abandoned batch
                if (!TryReadAck(message, out NetlinkError? error))
                {
                    onReply?.Invoke((int)request, message);
                    continue;
                }
                if (acked[request]) throw NetlinkException.Malformed($"request {message.Sequence} acked twice");
                acked[request] = true;
                errors[request] = error;
                pending--;
            }
        }
        return errors;
    }

    /// <summary>
    /// Sends <paramref name="requests"/> (which the kernel answers only where they fail, or as they ask), then
    /// <paramref name="fence"/>, one request with NLM_F_ACK numbered <paramref name="fenceSequence"/>, in a send of its own.
    /// The kernel handles each send whole, in order, before the next: when the fence's ack arrives, every answer to the
    /// requests has arrived before it. Hands every message before the fence's ack to <paramref name="onMessage"/> (the
    /// fence's own replies included) and returns the fence's error, null when it succeeded.
    /// </summary>
    public NetlinkError? ExchangeFenced(ReadOnlySpan<byte> requests, ReadOnlySpan<byte> fence, uint fenceSequence, MessageHandler onMessage)
    {
        EnsureSendBuffer(requests.Length);
        Send(requests);
        Send(fence);
        while (true)
        {
            foreach (NetlinkMessage message in ReceiveWaiting())
            {
                if (message.Sequence == fenceSequence && message.Type == NetlinkProtocol.NLMSG_ERROR) return NetlinkAck.ReadError(message);
                if (message.Type == NetlinkProtocol.NLMSG_OVERRUN) throw NetlinkException.Malformed("NLMSG_OVERRUN");
                onMessage(message);
            }
        }
    }

    /// <summary>
    /// Room for one datagram of <paramref name="bytes"/>: netlink refuses a send larger than the socket's send buffer (EMSGSIZE),
    /// and a transaction of nf_tables is one datagram. SO_SNDBUFFORCE (root) goes past net.core.wmem_max.
    /// </summary>
    private void EnsureSendBuffer(int bytes)
    {
        const int DefaultRoom = 200 * 1024;
        if (bytes <= DefaultRoom || bytes <= _sendBuffer) return;
        int wanted = bytes + 64 * 1024;
        if (SetSocketOption(_handle, SOL_SOCKET, SO_SNDBUFFORCE, wanted) != Errno.None) SetSocketOption(_handle, SOL_SOCKET, SO_SNDBUF, wanted);
        _sendBuffer = wanted;
    }

    /// <summary>
    /// Sends one dump request and hands every part to <paramref name="onPart"/> until NLMSG_DONE. Returns false when
    /// the kernel flagged the dump as interrupted (NLM_F_DUMP_INTR: the table changed meanwhile; dump again).
    /// Throws when the kernel refuses or ends the dump with an error.
    /// </summary>
    public bool Dump(ReadOnlySpan<byte> request, uint sequence, ReplyHandler onPart, string what)
    {
        Send(request);
        bool consistent = true;
        while (true)
        {
            foreach (NetlinkMessage message in ReceiveWaiting())
            {
                if (message.Sequence != sequence) continue;
                if (message.HasFlag(NetlinkProtocol.NLM_F_DUMP_INTR)) consistent = false;
                switch (message.Type)
                {
                    case NetlinkProtocol.NLMSG_DONE:
                        if (NetlinkAck.ReadDone(message) is { } doneError) throw NetlinkException.FromKernel(what, doneError);
                        return consistent;
                    case NetlinkProtocol.NLMSG_ERROR:
                        if (NetlinkAck.ReadError(message) is { } error) throw NetlinkException.FromKernel(what, error);
                        continue;
                    case NetlinkProtocol.NLMSG_NOOP:
                        continue;
                    default:
                        onPart(0, message);
                        continue;
                }
            }
        }
    }

    /// <summary>Sends requests without waiting for their answers (<see cref="Exchange"/> and <see cref="Dump"/> do both).</summary>
    public void Send(ReadOnlySpan<byte> requests)
    {
        Errno errno = SendDatagram(_handle, requests, out int sent);
        if (errno != Errno.None) throw NetlinkException.FromErrno("send", errno);
        if (sent != requests.Length) throw new NetlinkException("send", Errno.None, $"netlink send wrote {sent} of {requests.Length} bytes");
    }

    public void Dispose() => _handle.Dispose();

    private static bool TryReadAck(NetlinkMessage message, out NetlinkError? error)
    {
        error = null;
        switch (message.Type)
        {
            case NetlinkProtocol.NLMSG_ERROR:
                error = NetlinkAck.ReadError(message);
                return true;
            case NetlinkProtocol.NLMSG_OVERRUN:
                throw NetlinkException.Malformed("NLMSG_OVERRUN");
            default:
                return false;
        }
    }

    /// <summary>
    /// Receives the datagrams waiting (at least one; waits for it), each into its slot, and enumerates their messages.
    /// ENOBUFS here means the kernel dropped answers because the receive buffer was full.
    /// </summary>
    private ReceivedMessages ReceiveWaiting()
    {
        Errno errno = ReceiveDatagrams(_handle, _slots, SlotBytes, _lengths, out int count);
        if (errno != Errno.None)
        {
            NetlinkException failure = NetlinkException.FromErrno("recvmmsg", errno);
            if (errno != Errno.ENOBUFS) throw failure;
            throw new NetlinkException("recvmmsg", errno,
                $"{failure.Message}: the kernel dropped answers because the socket's receive buffer was full");
        }
        for (int i = 0; i < count; i++)
        {
            if (_lengths[i] > SlotBytes)
                throw NetlinkException.Malformed($"a datagram of {_lengths[i]} bytes, more than the {SlotBytes} expected at most");
        }
        return new ReceivedMessages(_slots, _lengths.AsSpan(0, count));
    }

    /// <summary>The messages of the datagrams one receive call brought, in order (foreach-able, no allocation).</summary>
    private ref struct ReceivedMessages(ReadOnlySpan<byte> slots, ReadOnlySpan<int> lengths)
    {
        private readonly ReadOnlySpan<byte> _slots = slots;
        private readonly ReadOnlySpan<int> _lengths = lengths;
        private int _datagram = -1;
        private NetlinkMessageReader _messages;

        public readonly ReceivedMessages GetEnumerator() => this;

        public readonly NetlinkMessage Current => _messages.Current;

        public bool MoveNext()
        {
            while (_datagram < 0 || !_messages.MoveNext())
            {
                if (++_datagram >= _lengths.Length) return false;
                _messages = new NetlinkMessageReader(_slots.Slice(_datagram * SlotBytes, _lengths[_datagram]));
            }
            return true;
        }
    }

    private static void Require(Errno errno, string operation)
    {
        if (errno != Errno.None) throw NetlinkException.FromErrno(operation, errno);
    }

    /// <summary>
    /// More room than one batch needs. SO_RCVBUFFORCE (root) goes past net.core.rmem_max; without the privilege
    /// SO_RCVBUF is capped there, which still holds the answers to one batch.
    /// </summary>
    private static void EnlargeReceiveBuffer(SafeSocketHandle handle)
    {
        if (SetSocketOption(handle, SOL_SOCKET, SO_RCVBUFFORCE, ReceiveBufferBytes) == Errno.None) return;
        SetSocketOption(handle, SOL_SOCKET, SO_RCVBUF, ReceiveBufferBytes);
    }
}
