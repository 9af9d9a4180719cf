using System.Runtime.InteropServices;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>Files that are not regular files, where the hook expects one: reading or writing them could wait forever.</summary>
internal static partial class SpecialFiles
{
    public static string Fifo(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (mkfifo(path, 0x180) != 0) throw new IOException($"mkfifo {path}: errno {Marshal.GetLastPInvokeError()}");
        return path;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, int mode);
}
