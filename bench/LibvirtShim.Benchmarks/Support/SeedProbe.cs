using System.Buffers.Text;
using System.Runtime.InteropServices;

namespace LibvirtShim.Benchmarks.Support;

/// <summary>
/// The seed's naming: for each NIC, probe PREFIX0, PREFIX1, ... until a name does not exist, then take it (libvirt's
/// old macvtap naming did this with virNetDevExists / if_nametoindex). Two ways to ask the kernel whether a name
/// exists: SIOCGIFFLAGS on one socket opened once and reused (the cheapest probe there is), or if_nametoindex (glibc
/// opens, uses and closes a socket on every call). Each probe is one kernel round trip; nothing is batched.
/// </summary>
internal sealed unsafe partial class SeedProbe : IDisposable
{
    private const int AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    private const nuint SIOCGIFFLAGS = 0x8913;
    private const int ENODEV = 19, ENXIO = 6;
    private const int IfReqBytes = 40, IfNameSize = 16;

    private readonly byte[] _prefix;
    private readonly int _socket;

    public SeedProbe(string prefix)
    {
        _prefix = System.Text.Encoding.ASCII.GetBytes(prefix);
        _socket = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (_socket < 0) throw new InvalidOperationException($"socket: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>Kernel round trips made so far (one per probe).</summary>
    public long Probes { get; private set; }

    /// <summary>Does PREFIX{index} exist? SIOCGIFFLAGS on the reused socket.</summary>
    public bool ExistsIoctl(int index)
    {
        byte* ifreq = stackalloc byte[IfReqBytes];
        new Span<byte>(ifreq, IfReqBytes).Clear();
        WriteName(new Span<byte>(ifreq, IfNameSize), index);
        Probes++;
        if (ioctl(_socket, SIOCGIFFLAGS, ifreq) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is ENODEV or ENXIO) return false;
        throw new InvalidOperationException($"ioctl(SIOCGIFFLAGS): {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>Does PREFIX{index} exist? if_nametoindex (a new socket per call, inside glibc).</summary>
    public bool ExistsNameToIndex(int index)
    {
        byte* name = stackalloc byte[IfNameSize];
        new Span<byte>(name, IfNameSize).Clear();
        WriteName(new Span<byte>(name, IfNameSize), index);
        Probes++;
        if (if_nametoindex(name) != 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is ENODEV or ENXIO or 0) return false;
        throw new InvalidOperationException($"if_nametoindex: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>
    /// Names <paramref name="count"/> NICs the seed's way: each one probes from PREFIX0 upward. A name this call already
    /// handed out counts as existing (the seed had created its link by then: its probe would find it); the probe for it
    /// is still made, as the seed made it. Returns the indexes taken in <paramref name="taken"/>.
    /// </summary>
    public void Name(int count, int capacity, bool useIoctl, bool[] handedOut, Span<int> taken)
    {
        for (int n = 0; n < count; n++)
        {
            int index = 0;
            for (; ; index++)
            {
                if (index >= capacity) throw new InvalidOperationException($"the seed found no free name below {capacity}");
                bool exists = useIoctl ? ExistsIoctl(index) : ExistsNameToIndex(index);
                if (!exists && !handedOut[index]) break;
            }
            handedOut[index] = true;
            taken[n] = index;
        }
        for (int n = 0; n < count; n++) handedOut[taken[n]] = false;
    }

    private void WriteName(Span<byte> destination, int index)
    {
        _prefix.CopyTo(destination);
        if (!Utf8Formatter.TryFormat(index, destination[_prefix.Length..(IfNameSize - 1)], out int written))
            throw new InvalidOperationException("name too long");
        destination[_prefix.Length + written] = 0;
    }

    public void Dispose() => close(_socket);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, byte* argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial uint if_nametoindex(byte* name);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
