using System.Runtime.InteropServices;

namespace LibvirtShim.Cli.Doctor;

/// <summary>What lstat/stat says of a path: type, mode, identity, times (ctime in nanoseconds since the epoch).</summary>
internal readonly record struct FileFacts(ushort Mode, ulong Inode, ulong Device, long ChangedAtNanoseconds, long ModifiedAt, long Size)
{
    public bool IsSymlink => (Mode & 0xF000) == 0xA000;
    public bool IsDirectory => (Mode & 0xF000) == 0x4000;
    public bool IsRegularFile => (Mode & 0xF000) == 0x8000;
    public bool IsExecutable => (Mode & 0x49) != 0;
}

/// <summary>statx, access and sysconf for the doctor, which looks at files as another process (libvirtd) sees them.</summary>
internal static partial class FileProbe
{
    private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, STATX_BASIC_STATS = 0x7ff;
    private const int W_OK = 2;
    private const int _SC_CLK_TCK = 2;

    /// <summary>The path itself (a symlink is not followed); null when it does not exist or cannot be looked at.</summary>
    public static FileFacts? Lstat(string path) => Stat(path, follow: false);

    /// <summary>What the path leads to (symlinks followed); null when that does not exist.</summary>
    public static FileFacts? Stat(string path) => Stat(path, follow: true);

    public static bool IsWritable(string path) => access(path, W_OK) == 0;

    public static long ClockTicksPerSecond => sysconf(_SC_CLK_TCK) is > 0 and var ticks ? ticks : 100;

    private static unsafe FileFacts? Stat(string path, bool follow)
    {
        byte* buffer = stackalloc byte[256];
        if (statx(AT_FDCWD, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buffer) != 0) return null;
        ushort mode = *(ushort*)(buffer + 28);
        ulong inode = *(ulong*)(buffer + 32);
        long size = *(long*)(buffer + 40);
        long changed = *(long*)(buffer + 96) * 1_000_000_000 + *(uint*)(buffer + 104);
        long modified = *(long*)(buffer + 112);
        ulong device = ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140);
        return new FileFacts(mode, inode, device, changed, modified, size);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, int mask, byte* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);

    [LibraryImport("libc")]
    private static partial long sysconf(int name);
}
