using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// The netlink socket calls of the C library: every wrapper retries EINTR and returns the result with an
    /// <see cref="Errno"/>; the netlink code above decides what a failure means.
    /// </summary>
    internal static partial class Libc
    {
        internal const int AF_NETLINK = 16;
        internal const int NETLINK_ROUTE = 0;
        internal const int NETLINK_NETFILTER = 12;

        internal const int SOL_SOCKET = 1;
        internal const int SO_RCVBUF = 8;
        internal const int SO_RCVBUFFORCE = 33;
        internal const int SO_SNDBUF = 7;
        internal const int SO_SNDBUFFORCE = 32;

        internal const int SOL_NETLINK = 270;
        internal const int NETLINK_CAP_ACK = 10;
        internal const int NETLINK_EXT_ACK = 11;
        internal const int NETLINK_GET_STRICT_CHK = 12;
        internal const int NETLINK_ADD_MEMBERSHIP = 1;

        /// <summary>rtnetlink's multicast group of link announcements (RTM_NEWLINK, RTM_DELLINK).</summary>
        internal const int RTNLGRP_LINK = 1;

        private const int SO_RCVTIMEO = 20;

        private const int MSG_TRUNC = 0x20;
        private const int MSG_WAITFORONE = 0x10000;

        private const int SOCK_RAW = 3;
        private const int SOCK_CLOEXEC = 0x80000;

        [StructLayout(LayoutKind.Sequential)]
        private struct SockAddrNetlink
        {
            public ushort Family;
            public ushort Pad;
            public uint PortId;
            public uint Groups;
        }

        [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
        private static partial int Socket(int domain, int type, int protocol);

        [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
        private static unsafe partial int Bind(SafeSocketHandle socket, SockAddrNetlink* address, uint addressLength);

        [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
        private static unsafe partial int SetSockOpt(SafeSocketHandle socket, int level, int name, int* value, uint valueLength);

        [StructLayout(LayoutKind.Sequential)]
        private struct TimeValue
        {
            public long Seconds;
            public long Microseconds;
        }

        [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
        private static unsafe partial int SetSockOptTime(SafeSocketHandle socket, int level, int name, TimeValue* value, uint valueLength);

        [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
        private static unsafe partial nint Send(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

        [StructLayout(LayoutKind.Sequential)]
        private struct IoVector
        {
            public nint Base;
            public nuint Length;
        }

        /// <summary>struct mmsghdr (x86-64, 64 bytes): a struct msghdr (56) and the length recvmmsg received into it.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 64)]
        private struct MultipleMessageHeader
        {
            [FieldOffset(0)] public nint Name;
            [FieldOffset(8)] public uint NameLength;
            [FieldOffset(16)] public nint Vectors;
            [FieldOffset(24)] public nuint VectorCount;
            [FieldOffset(32)] public nint Control;
            [FieldOffset(40)] public nuint ControlLength;
            [FieldOffset(48)] public int Flags;
            [FieldOffset(56)] public uint Received;
        }

        [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
        private static unsafe partial int RecvMultiple(SafeSocketHandle socket, MultipleMessageHeader* messages, uint count, int flags,
            nint timeout);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);

        /// <summary>socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol); an invalid handle and the errno when refused.</summary>
        internal static SafeSocketHandle OpenNetlinkSocket(int protocol, out Errno errno)
        {
            var handle = new SafeSocketHandle(Socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
            errno = handle.IsInvalid ? LastErrno() : Errno.None;
            return handle;
        }

        /// <summary>Binds to a port id the kernel picks, with no multicast groups.</summary>
        internal static unsafe Errno BindNetlink(SafeSocketHandle socket)
        {
            var address = new SockAddrNetlink { Family = AF_NETLINK };
            return Bind(socket, &address, (uint)sizeof(SockAddrNetlink)) < 0 ? LastErrno() : Errno.None;
        }

        /// <summary>setsockopt with an int value; the errno when the kernel refuses.</summary>
        internal static unsafe Errno SetSocketOption(SafeSocketHandle socket, int level, int name, int value) =>
            SetSockOpt(socket, level, name, &value, sizeof(int)) == 0 ? Errno.None : LastErrno();

        /// <summary>
        /// SO_RCVTIMEO: a receive that waits longer than <paramref name="wait"/> fails with EAGAIN, so a thread waiting for
        /// announcements looks up now and then (to stop, say).
        /// </summary>
        internal static unsafe Errno SetReceiveTimeout(SafeSocketHandle socket, TimeSpan wait)
        {
            var value = new TimeValue { Seconds = (long)wait.TotalSeconds, Microseconds = wait.Ticks % TimeSpan.TicksPerSecond / 10 };
            return SetSockOptTime(socket, SOL_SOCKET, SO_RCVTIMEO, &value, (uint)sizeof(TimeValue)) == 0 ? Errno.None : LastErrno();
        }

        /// <summary>Sends one datagram; netlink takes all of it or fails.</summary>
        internal static unsafe Errno SendDatagram(SafeSocketHandle socket, ReadOnlySpan<byte> datagram, out int sent)
        {
            nint result;
            Errno errno;
            fixed (byte* data = datagram)
                result = Retrying((socket, (nint)data, (nuint)datagram.Length), static a => Send(a.Item1, (byte*)a.Item2, a.Item3, 0), out errno);
            sent = (int)Math.Max(result, 0);
            return errno;
        }

        /// <summary>
        /// Receives up to <paramref name="lengths"/>.Length datagrams in one call, datagram i into slot i of
        /// <paramref name="buffer"/> (slots of <paramref name="slotBytes"/>): waits for the first, then takes what is queued.
        /// Returns how many arrived; <paramref name="lengths"/> holds each one's full length (MSG_TRUNC), larger than the slot
        /// when the datagram did not fit and was cut.
        /// </summary>
        internal static unsafe Errno ReceiveDatagrams(
            SafeSocketHandle socket, Span<byte> buffer, int slotBytes, Span<int> lengths, out int count)
        {
            int slots = Math.Min(lengths.Length, buffer.Length / slotBytes);
            IoVector* vectors = stackalloc IoVector[slots];
            MultipleMessageHeader* messages = stackalloc MultipleMessageHeader[slots];
            nint result;
            Errno errno;
            fixed (byte* data = buffer)
            {
                for (int i = 0; i < slots; i++)
                {
                    vectors[i] = new IoVector { Base = (nint)(data + (long)i * slotBytes), Length = (nuint)slotBytes };
                    messages[i] = new MultipleMessageHeader { Vectors = (nint)(vectors + i), VectorCount = 1 };
                }
                result = Retrying((socket, (nint)messages, (uint)slots),
                    static a => RecvMultiple(a.Item1, (MultipleMessageHeader*)a.Item2, a.Item3, MSG_WAITFORONE | MSG_TRUNC, 0), out errno);
            }
            count = (int)Math.Max(result, 0);
            for (int i = 0; i < count; i++)
                lengths[i] = Math.Max(checked((int)messages[i].Received), (messages[i].Flags & MSG_TRUNC) != 0 ? slotBytes + 1 : 0);
            return errno;
        }
    }
}
