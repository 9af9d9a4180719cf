using System.Runtime.InteropServices;
using System.Text;

namespace LibvirtShim.Logging;

/// <summary>
/// A connected AF_UNIX datagram socket (what syslog(3) uses for /dev/log), through libc: System.Net.Sockets would
/// grow the executable, and every hook call pays for its size at start. Sends never block.
/// </summary>
internal sealed partial class UnixDatagramSocket : IDisposable
{
    private const int AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    private const int MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;
    private const int EINTR = 4;
    private const int SunPathBytes = 108;

    private int _fd;

    private UnixDatagramSocket(int fd) => _fd = fd;

    /// <summary>Connects to the socket at <paramref name="path"/>; null when there is none, or nobody listens.</summary>
    public static unsafe UnixDatagramSocket? TryConnect(string path)
    {
        byte[] pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= SunPathBytes) return null;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return null;
        byte* address = stackalloc byte[2 + SunPathBytes];
        new Span<byte>(address, 2 + SunPathBytes).Clear();
        *(ushort*)address = AF_UNIX;
        pathBytes.CopyTo(new Span<byte>(address + 2, SunPathBytes));
        int result;
        do result = connect(fd, address, 2 + pathBytes.Length + 1);
        while (result < 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (result < 0)
        {
            close(fd);
            return null;
        }
        return new UnixDatagramSocket(fd);
    }

    /// <summary>Sends one datagram without waiting; false when it could not go (receiver gone, its queue full).</summary>
    public unsafe bool TrySend(ReadOnlySpan<byte> datagram)
    {
        if (_fd < 0) return false;
        fixed (byte* bytes = datagram)
        {
            nint sent;
            do sent = send(_fd, bytes, datagram.Length, MSG_DONTWAIT | MSG_NOSIGNAL);
            while (sent < 0 && Marshal.GetLastPInvokeError() == EINTR);
            return sent == datagram.Length;
        }
    }

    public void Dispose()
    {
        if (_fd >= 0) close(_fd);
        _fd = -1;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int connect(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
