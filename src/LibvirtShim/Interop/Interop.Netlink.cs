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

        internal const int SOL_SOCKET = 1;
        internal const int SO_RCVBUF = 8;
        internal const int SO_RCVBUFFORCE = 33;

        internal const int SOL_NETLINK = 270;
        internal const int NETLINK_CAP_ACK = 10;
        internal const int NETLINK_EXT_ACK = 11;
        internal const int NETLINK_GET_STRICT_CHK = 12;

        internal const int MSG_PEEK = 0x2;
        internal const int MSG_TRUNC = 0x20;

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
        private static unsafe partial int Bind(SafeNetlinkSocketHandle socket, SockAddrNetlink* address, uint addressLength);

        [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
        private static unsafe partial int SetSockOpt(SafeNetlinkSocketHandle socket, int level, int name, int* value, uint valueLength);

        [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
        private static unsafe partial nint Send(SafeNetlinkSocketHandle socket, byte* buffer, nuint length, int flags);

        [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
        private static unsafe partial nint Recv(SafeNetlinkSocketHandle socket, byte* buffer, nuint length, int flags);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);

        /// <summary>socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol); an invalid handle and the errno when refused.</summary>
        internal static SafeNetlinkSocketHandle OpenNetlinkSocket(int protocol, out Errno errno)
        {
            var handle = new SafeNetlinkSocketHandle(Socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
            errno = handle.IsInvalid ? LastErrno() : Errno.None;
            return handle;
        }

        /// <summary>Binds to a port id the kernel picks, with no multicast groups.</summary>
        internal static unsafe Errno BindNetlink(SafeNetlinkSocketHandle socket)
        {
            var address = new SockAddrNetlink { Family = AF_NETLINK };
            return Bind(socket, &address, (uint)sizeof(SockAddrNetlink)) < 0 ? LastErrno() : Errno.None;
        }

        /// <summary>setsockopt with an int value; the errno when the kernel refuses.</summary>
        internal static unsafe Errno SetSocketOption(SafeNetlinkSocketHandle socket, int level, int name, int value) =>
            SetSockOpt(socket, level, name, &value, sizeof(int)) == 0 ? Errno.None : LastErrno();

        /// <summary>Sends one datagram; netlink takes all of it or fails.</summary>
        internal static unsafe Errno SendDatagram(SafeNetlinkSocketHandle socket, ReadOnlySpan<byte> datagram, out int sent)
        {
            nint result;
            Errno errno;
            fixed (byte* data = datagram)
                result = Retrying((socket, (nint)data, (nuint)datagram.Length), static a => Send(a.Item1, (byte*)a.Item2, a.Item3, 0), out errno);
            sent = (int)Math.Max(result, 0);
            return errno;
        }

        /// <summary>recv with <paramref name="flags"/>; with MSG_TRUNC <paramref name="length"/> is the datagram's full length.</summary>
        internal static unsafe Errno Receive(SafeNetlinkSocketHandle socket, Span<byte> buffer, int flags, out int length)
        {
            nint result;
            Errno errno;
            fixed (byte* data = buffer)
                result = Retrying((socket, (nint)data, (nuint)buffer.Length, flags),
                    static a => Recv(a.Item1, (byte*)a.Item2, a.Item3, a.Item4), out errno);
            length = checked((int)Math.Max(result, 0));
            return errno;
        }
    }
}
