using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// The frames of a test namespace, whole, as tcpdump would see them: an AF_PACKET socket opened inside it. Bound to one link
/// (the far end of a lower device's veth: the LAN), it keeps only what that link receives, not what it sends; unbound, every
/// frame sent or received on any link of the namespace.
/// </summary>
internal sealed partial class LanCapture : IDisposable
{
    private const int AF_PACKET = 17;
    private const int SOCK_RAW = 3;
    private const int SOCK_CLOEXEC = 0x80000;
    private const ushort ETH_P_ALL = 0x0003;
    private const int MSG_DONTWAIT = 0x40;
    private const short POLLIN = 1;
    private const byte PACKET_OUTGOING = 4;

    private readonly int _socket;
    private readonly bool _receivedOnly;
    private readonly List<byte[]> _frames = [];
    private readonly byte[] _buffer = new byte[65536];

    private LanCapture(int socket, bool receivedOnly)
    {
        _socket = socket;
        _receivedOnly = receivedOnly;
    }

    /// <summary>Every frame of the namespace, sent or received, on any link.</summary>
    public static LanCapture OpenAll(NetNamespace ns) => new(ns.InNamespace(OpenSocket), receivedOnly: false);

    public static LanCapture Open(NetNamespace ns, string link)
    {
        int ifindex = ns.Link(link).Index;
        return new LanCapture(ns.InNamespace(() =>
        {
            int fd = OpenSocket();
            var address = new SockAddrLl { Family = AF_PACKET, Protocol = BinaryPrimitives.ReverseEndianness(ETH_P_ALL), Ifindex = ifindex };
            if (Bind(fd, ref address, Marshal.SizeOf<SockAddrLl>()) != 0)
            {
                string error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
                Close(fd);
                throw new InvalidOperationException($"bind(AF_PACKET, {link}): {error}");
            }
            return fd;
        }), receivedOnly: true);
    }

    private static int OpenSocket()
    {
        int fd = Socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, BinaryPrimitives.ReverseEndianness(ETH_P_ALL));
        if (fd < 0) throw new InvalidOperationException($"socket(AF_PACKET): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return fd;
    }

    /// <summary>Every frame received so far (read now, without waiting).</summary>
    public IReadOnlyList<byte[]> Frames
    {
        get
        {
            Drain(TimeSpan.Zero);
            return _frames;
        }
    }

    /// <summary>Reads until a frame matching <paramref name="match"/> arrived or <paramref name="bound"/> passed; returns whether it did.</summary>
    public bool WaitFor(Func<byte[], bool> match, TimeSpan bound) => WaitUntil(frames => frames.Any(match), bound);

    /// <summary>Reads until <paramref name="done"/> holds for the frames so far or <paramref name="bound"/> passed; returns whether it did.</summary>
    public bool WaitUntil(Func<IReadOnlyList<byte[]>, bool> done, TimeSpan bound)
    {
        DateTime end = DateTime.UtcNow + bound;
        while (!done(_frames))
        {
            TimeSpan left = end - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return false;
            Drain(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
        return true;
    }

    public void Dispose() => Close(_socket);

    private void Drain(TimeSpan wait)
    {
        var poll = new PollFd { Fd = _socket, Events = POLLIN };
        if (Poll(ref poll, 1, (int)wait.TotalMilliseconds) <= 0) return;
        while (true)
        {
            var from = new SockAddrLl();
            int fromLength = Marshal.SizeOf<SockAddrLl>();
            nint received = ReceiveFrom(_socket, _buffer, _buffer.Length, MSG_DONTWAIT, ref from, ref fromLength);
            if (received <= 0) return;
            if (!_receivedOnly || from.PacketType != PACKET_OUTGOING) _frames.Add(_buffer.AsSpan(0, (int)received).ToArray());
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int Ifindex;
        public ushort HardwareType;
        public byte PacketType;
        public byte AddressLength;
        public ulong Address;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, ref SockAddrLl address, int length);

    [LibraryImport("libc", EntryPoint = "recvfrom", SetLastError = true)]
    private static partial nint ReceiveFrom(int fd, [Out] byte[] buffer, nint length, int flags, ref SockAddrLl from, ref int fromLength);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
