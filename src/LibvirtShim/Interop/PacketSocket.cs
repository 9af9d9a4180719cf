using System.Runtime.InteropServices;

/// <summary>
/// An AF_PACKET socket that only sends whole Ethernet frames out of a link chosen per frame (its protocol is 0: it receives
/// nothing), through libc.
/// </summary>
internal sealed partial class PacketSocket : IDisposable
{
    private const int AF_PACKET = 17, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, MSG_DONTWAIT = 0x40;

    private readonly SafeSocketHandle _handle;

    private PacketSocket(SafeSocketHandle handle) => _handle = handle;

    /// <summary>Opens one in the calling thread's network namespace; the errno when the kernel refuses (no CAP_NET_RAW).</summary>
    public static PacketSocket Open()
    {
        var handle = new SafeSocketHandle(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
        if (handle.IsInvalid) throw new FileCallException("socket", "AF_PACKET", Interop.LastErrno());
        return new PacketSocket(handle);
    }

    /// <summary>Sends <paramref name="frame"/> (Ethernet header included) out of link <paramref name="ifindex"/> without waiting.</summary>
    public unsafe Errno Send(int ifindex, ReadOnlySpan<byte> frame)
    {
        var address = new SockAddrLinkLayer { Family = AF_PACKET, Ifindex = ifindex };
        nint sent;
        Errno errno;
        fixed (byte* bytes = frame)
            sent = Interop.Retrying((_handle, (nint)bytes, (nuint)frame.Length, (nint)(&address)),
                static a => sendto(a.Item1, (byte*)a.Item2, a.Item3, MSG_DONTWAIT, (SockAddrLinkLayer*)a.Item4, (uint)sizeof(SockAddrLinkLayer)),
                out errno);
        return sent < 0 ? errno : Errno.None;
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>struct sockaddr_ll: for sending on a SOCK_RAW socket only the family and the ifindex count.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrLinkLayer
    {
        public ushort Family;
        public ushort Protocol;
        public int Ifindex;
        public ushort HardwareType;
        public byte PacketType;
        public byte AddressLength;
        public ulong Address;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint sendto(SafeSocketHandle socket, byte* buffer, nuint length, int flags, SockAddrLinkLayer* address,
        uint addressLength);
}
