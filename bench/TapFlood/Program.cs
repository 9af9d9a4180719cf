using System.Diagnostics;
using System.Runtime.InteropServices;

// tap-flood NODE FRAME-HEX COUNT: writes COUNT copies of the frame (a 10-byte virtio-net header before it) into the
// tap character device NODE, one write per frame as QEMU makes them, and prints the frames per second.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: tap-flood NODE FRAME-HEX COUNT");
    return 2;
}
byte[] frame = Convert.FromHexString(args[1]);
int count = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
byte[] packet = new byte[10 + frame.Length];
frame.CopyTo(packet, 10);
int fd = Native.Open(args[0], 2 /* O_RDWR */);
if (fd < 0)
{
    Console.Error.WriteLine($"open {args[0]}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    return 1;
}
var clock = Stopwatch.StartNew();
for (int i = 0; i < count; i++)
{
    if (Native.Write(fd, packet, packet.Length) != packet.Length)
    {
        Console.Error.WriteLine($"write: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return 1;
    }
}
double seconds = clock.Elapsed.TotalSeconds;
Console.WriteLine((count / seconds).ToString("F0", System.Globalization.CultureInfo.InvariantCulture));
return 0;

internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte[] buffer, nint count);
}
