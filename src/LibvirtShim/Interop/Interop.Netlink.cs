using System.Runtime.InteropServices;
using LibvirtShim.Netlink;

internal static partial class Interop
{
    /// <summary>
    /// The netlink socket calls of the C library. This is the only place that sees raw pointers and errno:
    /// every wrapper retries EINTR and either returns a typed result or throws <see cref="NetlinkException"/>.
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
        private const int EINTR = 4;

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

        /// <summary>socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol).</summary>
        internal static SafeNetlinkSocketHandle OpenNetlinkSocket(int protocol)
        {
            int fd = Socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
            if (fd < 0) throw NetlinkException.FromErrno("socket(AF_NETLINK)", Marshal.GetLastPInvokeError());
            return new SafeNetlinkSocketHandle(fd);
        }

        /// <summary>Binds to a port id the kernel picks, with no multicast groups.</summary>
        internal static unsafe void BindNetlink(SafeNetlinkSocketHandle socket)
        {
            var address = new SockAddrNetlink { Family = AF_NETLINK };
            if (Bind(socket, &address, (uint)sizeof(SockAddrNetlink)) < 0)
                throw NetlinkException.FromErrno("bind(AF_NETLINK)", Marshal.GetLastPInvokeError());
        }

        /// <summary>setsockopt with an int value; false and the errno when the kernel refuses.</summary>
        internal static unsafe bool TrySetSocketOption(SafeNetlinkSocketHandle socket, int level, int name, int value, out int errno)
        {
            errno = 0;
            if (SetSockOpt(socket, level, name, &value, sizeof(int)) == 0) return true;
            errno = Marshal.GetLastPInvokeError();
            return false;
        }

        internal static void SetSocketOption(SafeNetlinkSocketHandle socket, int level, int name, int value, string what)
        {
            if (!TrySetSocketOption(socket, level, name, value, out int errno))
                throw NetlinkException.FromErrno($"setsockopt({what})", errno);
        }

        /// <summary>Sends one datagram; netlink takes all of it or fails.</summary>
        internal static unsafe void SendDatagram(SafeNetlinkSocketHandle socket, ReadOnlySpan<byte> datagram)
        {
            fixed (byte* data = datagram)
            {
                nint sent;
                do sent = Send(socket, data, (nuint)datagram.Length, 0);
                while (sent < 0 && Marshal.GetLastPInvokeError() == EINTR);

                if (sent < 0) throw NetlinkException.FromErrno("send", Marshal.GetLastPInvokeError());
                if (sent != datagram.Length)
                    throw new NetlinkException("send", 0, $"netlink send wrote {sent} of {datagram.Length} bytes");
            }
        }

        /// <summary>recv with <paramref name="flags"/>; with MSG_TRUNC the result is the datagram's full length.</summary>
        internal static unsafe int Receive(SafeNetlinkSocketHandle socket, Span<byte> buffer, int flags)
        {
            fixed (byte* data = buffer)
            {
                nint received;
                do received = Recv(socket, data, (nuint)buffer.Length, flags);
                while (received < 0 && Marshal.GetLastPInvokeError() == EINTR);

                if (received < 0) throw NetlinkException.FromErrno("recv", Marshal.GetLastPInvokeError());
                return checked((int)received);
            }
        }
    }
}
