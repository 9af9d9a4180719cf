using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

internal static partial class Interop
{
    /// <summary>File calls .NET does not offer: open without following symlinks, flock, fsync, lstat's owner and mode.</summary>
    internal static partial class Files
    {
        private const int O_RDONLY = 0x0, O_RDWR = 0x2, O_WRONLY = 0x1, O_CREAT = 0x40, O_TRUNC = 0x200, O_APPEND = 0x400;
        private const int O_NONBLOCK = 0x800, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
        private const int LOCK_EX = 2, LOCK_NB = 4;
        private const int EWOULDBLOCK = 11, EINTR = 4;
        private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000, STATX_BASIC_STATS = 0x7ff;

        public static SafeFileHandle OpenForRead(string path) => Open(path, O_RDONLY, 0);

        /// <summary>
        /// An input file given by name (settings, a domain XML), symlinks followed: open(2) of a FIFO would wait for a
        /// writer forever, so it opens without waiting and refuses anything but a regular file.
        /// </summary>
        public static SafeFileHandle OpenRegularForRead(string path) => RequireRegularFile(Open(path, O_RDONLY | O_NONBLOCK, 0, follow: true), path);

        public static SafeFileHandle OpenForWrite(string path) => Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0x180);

        public static SafeFileHandle OpenLockFile(string path) => Open(path, O_RDWR | O_CREAT, 0x180);

        /// <summary>
        /// For a log several processes write: every write lands at the end of the file, whole (O_APPEND). A FIFO in its
        /// place would block the open, or every write once its reader stops: only a regular file is used.
        /// </summary>
        public static SafeFileHandle OpenForAppend(string path) => RequireRegularFile(Open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0x1A0), path);

        /// <summary>One write(2) of all the bytes (a short write, rare for a regular file, is finished by more writes).</summary>
        public static unsafe void Append(SafeFileHandle handle, ReadOnlySpan<byte> bytes, string path)
        {
            while (!bytes.IsEmpty)
            {
                nint written;
                fixed (byte* p = bytes) written = write(handle, p, (nuint)bytes.Length);
                if (written < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    throw new FileCallException("write", path, errno);
                }
                bytes = bytes[(int)written..];
            }
        }

        /// <summary>Takes an exclusive flock without waiting; false when another open file description holds it.</summary>
        public static bool TryLockExclusive(SafeFileHandle handle, string path)
        {
            while (true)
            {
                if (flock(handle, LOCK_EX | LOCK_NB) == 0) return true;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EWOULDBLOCK) return false;
                if (errno != EINTR) throw new FileCallException("flock", path, errno);
            }
        }

        public static void Sync(SafeFileHandle handle, string path)
        {
            if (fsync(handle) != 0) throw new FileCallException("fsync", path, Marshal.GetLastPInvokeError());
        }

        /// <summary>Owner, permission bits and file type of a path, not following a final symlink; null if it does not exist.</summary>
        public static unsafe FileOwnership? Lstat(string path)
        {
            byte* buffer = stackalloc byte[256];
            if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buffer) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 2) return null;
                throw new FileCallException("statx", path, errno);
            }
            uint uid = *(uint*)(buffer + 0x14);
            ushort mode = *(ushort*)(buffer + 0x1C);
            return new FileOwnership(uid, mode);
        }

        public static uint EffectiveUserId() => geteuid();

        private static unsafe SafeFileHandle RequireRegularFile(SafeFileHandle handle, string path)
        {
            byte* buffer = stackalloc byte[256];
            if (statx(handle, "", AT_EMPTY_PATH, STATX_BASIC_STATS, buffer) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                handle.Dispose();
                throw new FileCallException("statx", path, errno);
            }
            var found = new FileOwnership(*(uint*)(buffer + 0x14), *(ushort*)(buffer + 0x1C));
            if (found.IsRegularFile) return handle;
            handle.Dispose();
            throw new NotRegularFileException(path, found.TypeName);
        }

        private static SafeFileHandle Open(string path, int flags, int mode, bool follow = false)
        {
            int fd;
            do fd = open(path, flags | (follow ? 0 : O_NOFOLLOW) | O_CLOEXEC, mode);
            while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
            if (fd < 0) throw new FileCallException("open", path, Marshal.GetLastPInvokeError());
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int open(string path, int flags, int mode);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int flock(SafeFileHandle fd, int operation);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int fsync(SafeFileHandle fd);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial nint write(SafeFileHandle fd, byte* buffer, nuint count);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int statx(int dirfd, string path, int flags, int mask, byte* buffer);

        [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int statx(SafeFileHandle fd, string path, int flags, int mask, byte* buffer);

        [LibraryImport("libc")]
        private static partial uint geteuid();
    }
}

/// <summary>st_uid and st_mode (file type and permission bits).</summary>
internal readonly record struct FileOwnership(uint Uid, ushort Mode)
{
    public bool IsSymlink => (Mode & 0xF000) == 0xA000;
    public bool IsDirectory => (Mode & 0xF000) == 0x4000;
    public bool IsRegularFile => (Mode & 0xF000) == 0x8000;
    public int Permissions => Mode & 0xFFF;

    public string TypeName => (Mode & 0xF000) switch
    {
        0x8000 => "a regular file",
        0x4000 => "a directory",
        0xA000 => "a symbolic link",
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => "of an unknown file type",
    };
}

/// <summary>A FIFO, device or directory where a file is expected: reading or writing it could wait forever.</summary>
internal sealed class NotRegularFileException(string path, string typeName)
    : IOException($"{path} is {typeName}, not a regular file; refusing to use it");

internal sealed class FileCallException(string call, string path, int errno)
    : IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;
    public bool IsSymlinkRefused => Errno == 40; // ELOOP from O_NOFOLLOW
}
