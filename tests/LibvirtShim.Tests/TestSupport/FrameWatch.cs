using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LibvirtShim.Net;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// Counts the Ethernet frames of a network namespace by source MAC: an AF_PACKET socket (ETH_P_ALL) opened inside it
/// sees every frame sent or received on any of its links, the way tcpdump would.
/// </summary>
internal sealed partial class FrameWatch : IDisposable
{
    private const int AF_PACKET = 17;
    private const int SOCK_RAW = 3;
    private const int SOCK_CLOEXEC = 0x80000;
    private const ushort ETH_P_ALL = 0x0003;
    private const int MSG_DONTWAIT = 0x40;
    private const short POLLIN = 1;

    private readonly int _socket;
    private readonly Dictionary<MacAddress, int> _frames = [];
    private readonly byte[] _buffer = new byte[65536];

    private FrameWatch(int socket) => _socket = socket;

    public static FrameWatch Open(NetNamespace ns) => new(ns.InNamespace(() =>
    {
        int fd = Socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, BinaryPrimitives.ReverseEndianness(ETH_P_ALL));
        if (fd < 0) throw new InvalidOperationException($"socket(AF_PACKET): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return fd;
    }));

    /// <summary>Frames seen so far with <paramref name="source"/> as their source MAC.</summary>
    public int From(MacAddress source)
    {
        Drain(TimeSpan.Zero);
        return _frames.GetValueOrDefault(source);
    }

    /// <summary>Reads frames until <paramref name="done"/> holds or <paramref name="bound"/> has passed; returns whether it held.</summary>
    public bool WaitUntil(Func<FrameWatch, bool> done, TimeSpan bound)
    {
        DateTime end = DateTime.UtcNow + bound;
        while (!done(this))
        {
            TimeSpan left = end - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return false;
            Drain(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
        }
        return true;
    }

    public string Summary() => string.Join(", ", _frames.Select(f => $"{f.Key}: {f.Value}"));

    public void Dispose() => Close(_socket);

    /// <summary>Counts every frame queued now, first waiting up to <paramref name="wait"/> for one.</summary>
    private void Drain(TimeSpan wait)
    {
        var poll = new PollFd { Fd = _socket, Events = POLLIN };
        if (Poll(ref poll, 1, (int)wait.TotalMilliseconds) <= 0) return;
        while (true)
        {
            nint received = Receive(_socket, _buffer, _buffer.Length, MSG_DONTWAIT);
            if (received < 12) return;
            MacAddress source = MacAddress.Read(_buffer.AsSpan(6, MacAddress.Length));
            _frames[source] = _frames.GetValueOrDefault(source) + 1;
        }
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

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Receive(int fd, [Out] byte[] buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
