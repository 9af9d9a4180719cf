using System.Runtime.InteropServices;
using System.Text;

/// <summary>
/// A connected AF_UNIX datagram socket (what syslog(3) uses for /dev/log), through libc: System.Net.Sockets would
/// grow the executable, and every hook call pays for its size at start. Sends never block.
/// </summary>
internal sealed partial class UnixDatagramSocket : IDisposable
{
    private const int AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    private const int MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;
    private const int SunPathBytes = 108;

    private readonly SafeSocketHandle _handle;

    private UnixDatagramSocket(SafeSocketHandle handle) => _handle = handle;

    /// <summary>Connects to the socket at <paramref name="path"/>; null when there is none, or nobody listens.</summary>
    public static unsafe UnixDatagramSocket? TryConnect(string path)
    {
        byte[] pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= SunPathBytes) return null;
        var handle = new SafeSocketHandle(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (handle.IsInvalid) return null;
        byte* address = stackalloc byte[2 + SunPathBytes];
        new Span<byte>(address, 2 + SunPathBytes).Clear();
        *(ushort*)address = AF_UNIX;
        pathBytes.CopyTo(new Span<byte>(address + 2, SunPathBytes));
        if (Interop.Retrying((handle, (nint)address, 2 + pathBytes.Length + 1), static a => connect(a.Item1, (byte*)a.Item2, a.Item3), out _) < 0)
        {
            handle.Dispose();
            return null;
        }
        return new UnixDatagramSocket(handle);
    }

    /// <summary>Sends one datagram without waiting; false when it could not go (receiver gone, its queue full).</summary>
    public unsafe bool TrySend(ReadOnlySpan<byte> datagram)
    {
        if (_handle.IsClosed) return false;
        fixed (byte* bytes = datagram)
        {
            nint sent = Interop.Retrying((_handle, (nint)bytes, (nint)datagram.Length),
                static a => send(a.Item1, (byte*)a.Item2, a.Item3, MSG_DONTWAIT | MSG_NOSIGNAL), out _);
            return sent == datagram.Length;
        }
    }

    public void Dispose() => _handle.Dispose();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int connect(SafeSocketHandle fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint send(SafeSocketHandle fd, byte* buffer, nint length, int flags);
}
