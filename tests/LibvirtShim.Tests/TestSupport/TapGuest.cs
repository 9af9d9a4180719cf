using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// Writes frames into a macvtap of a test namespace as QEMU's guest would: through its tap character device, a 10-byte
/// virtio-net header (all zero) before each frame. The node is made with mknod in a private directory of the test (never
/// in /dev: devtmpfs makes nodes for the host's own namespace only), from the major:minor that sysfs shows inside the
/// namespace (`ip netns exec` mounts the namespace's own sysfs).
/// </summary>
internal sealed partial class TapGuest : IDisposable
{
    private const int VirtioNetHeaderBytes = 10;

    private readonly string _directory;
    private readonly SafeFileHandle _tap;

    private TapGuest(string directory, SafeFileHandle tap)
    {
        _directory = directory;
        _tap = tap;
    }

    public static TapGuest Open(NetNamespace ns, string link)
    {
        string ifindex = Tool.Run("ip", "netns", "exec", ns.Name, "cat", $"/sys/class/net/{link}/ifindex").Trim();
        string device = Tool.Run("ip", "netns", "exec", ns.Name, "cat", $"/sys/class/net/{link}/macvtap/tap{ifindex}/dev").Trim();
        string directory = Directory.CreateTempSubdirectory("shim-tap-").FullName;
        try
        {
            string node = Path.Combine(directory, "tap");
            string[] numbers = device.Split(':');
            Tool.Run("mknod", "-m", "600", node, "c", numbers[0], numbers[1]);
            return new TapGuest(directory, File.OpenHandle(node, FileMode.Open, FileAccess.ReadWrite));
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Sends one frame (Ethernet header onwards).</summary>
    public void Send(byte[] frame)
    {
        byte[] packet = new byte[VirtioNetHeaderBytes + frame.Length];
        frame.CopyTo(packet, VirtioNetHeaderBytes);
        nint written = Write(_tap, packet, packet.Length);
        if (written != packet.Length)
            throw new InvalidOperationException(
                $"write to the tap: {written} of {packet.Length} bytes ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())})");
    }

    public void Dispose()
    {
        _tap.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(SafeFileHandle fd, byte[] buffer, nint count);
}
