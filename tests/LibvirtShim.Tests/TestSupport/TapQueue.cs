using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LibvirtShim.Net;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// A macvtap's queue as QEMU holds it: its device node opened, read frame by frame (each after the 10-byte virtio-net
/// header the kernel puts first). Opening the node the hook left at /dev/tapIFINDEX and reading the frames the link
/// received is the proof that the node names that link's device.
/// </summary>
internal sealed partial class TapQueue : IDisposable
{
    private const int O_RDWR = 0x2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    private const short POLLIN = 1;
    private const int VirtioNetHeader = 10;

    private readonly int _fd;
    private readonly byte[] _buffer = new byte[65536];
    private readonly Dictionary<MacAddress, int> _frames = [];

    private TapQueue(int fd) => _fd = fd;

    public static TapQueue Open(string node)
    {
        int fd = OpenNode(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) throw new InvalidOperationException($"open {node}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return new TapQueue(fd);
    }

    /// <summary>
    /// Frames read so far with <paramref name="source"/> as their source MAC, after reading what comes within
    /// <paramref name="wait"/>.
    /// </summary>
    public int From(MacAddress source, TimeSpan wait)
    {
        Drain(wait);
        return _frames.GetValueOrDefault(source);
    }

    public string Summary() => string.Join(", ", _frames.Select(f => $"{f.Key}: {f.Value}"));

    private void Drain(TimeSpan wait)
    {
        DateTime end = DateTime.UtcNow + wait;
        while (true)
        {
            int left = Math.Max(0, (int)(end - DateTime.UtcNow).TotalMilliseconds);
            var poll = new PollFd { Fd = _fd, Events = POLLIN };
            if (Poll(ref poll, 1, left) <= 0) return;
            nint read = Read(_fd, _buffer, _buffer.Length);
            if (read < VirtioNetHeader + 12) continue;
            MacAddress source = MacAddress.Read(_buffer.AsSpan(VirtioNetHeader + 6, MacAddress.Length));
            _frames[source] = _frames.GetValueOrDefault(source) + 1;
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> broadcast frames (an unused EtherType) with <paramref name="source"/> as their source
    /// MAC out of <paramref name="link"/> of namespace <paramref name="ns"/>, through a packet socket: they arrive at its
    /// veth peer as a switch would deliver them.
    /// </summary>
    public static void Send(NetNamespace ns, string link, MacAddress source, int count)
    {
        int ifindex = ns.Link(link).Index;
        ns.InNamespace(() =>
        {
            int fd = Socket(17 /* AF_PACKET */, 3 /* SOCK_RAW */ | O_CLOEXEC, 0);
            if (fd < 0) throw new InvalidOperationException($"socket(AF_PACKET): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            try
            {
                var frame = new byte[60];
                frame.AsSpan(0, 6).Fill(0xff);
                source.Write(frame.AsSpan(6));
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88b5); // IEEE 802 local experimental EtherType
                var address = new SockAddrLinkLayer
                {
                    Family = 17,
                    Protocol = BinaryPrimitives.ReverseEndianness((ushort)0x88b5),
                    Ifindex = ifindex,
                    AddressLength = 6
                };
                for (int i = 0; i < count; i++)
                {
                    if (SendTo(fd, frame, frame.Length, 0, ref address, Marshal.SizeOf<SockAddrLinkLayer>()) < 0)
                        throw new InvalidOperationException($"sendto {link}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                }
            }
            finally
            {
                Close(fd);
            }
            return 0;
        });
    }

    public void Dispose() => Close(_fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>struct sockaddr_ll.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct SockAddrLinkLayer
    {
        public ushort Family;
        public ushort Protocol;
        public int Ifindex;
        public ushort HardwareType;
        public byte PacketType;
        public byte AddressLength;
        public fixed byte Address[8];
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNode(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, [Out] byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static partial nint SendTo(int fd, byte[] buffer, nint length, int flags, ref SockAddrLinkLayer address, int addressLength);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
