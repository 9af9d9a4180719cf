using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.Benchmarks.Support;

/// <summary>
/// Moves the calling thread into a network namespace made by `ip netns add` (bench/allocator.sh makes them). A network
/// namespace belongs to a thread: every socket the thread opens afterwards (the seed's probe socket, the socket
/// if_nametoindex opens on each call, the product's rtnetlink socket) is in that namespace.
/// </summary>
internal static partial class NetNs
{
    private const int CLONE_NEWNET = 0x40000000;

    public static void EnterOnThisThread(string name)
    {
        string path = $"/run/netns/{name}";
        if (!File.Exists(path)) throw new InvalidOperationException($"network namespace {name} does not exist ({path}); bench/allocator.sh creates it");
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (SetNs(handle, CLONE_NEWNET) != 0)
            throw new InvalidOperationException($"setns({name}): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeFileHandle fd, int nstype);
}
