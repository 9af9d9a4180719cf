using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

internal static partial class Interop
{
    /// <summary>File calls .NET does not offer: open without following symlinks, flock, fsync, lstat's owner and mode.</summary>
    internal static partial class Files
    {
        private const int O_RDONLY = 0x0, O_RDWR = 0x2, O_WRONLY = 0x1, O_CREAT = 0x40, O_TRUNC = 0x200, O_APPEND = 0x400;
        private const int O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
        private const int LOCK_EX = 2, LOCK_NB = 4;
        private const int EWOULDBLOCK = 11, EINTR = 4;
        private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, STATX_BASIC_STATS = 0x7ff;

        public static SafeFileHandle OpenForRead(string path) => Open(path, O_RDONLY, 0);

        public static SafeFileHandle OpenForWrite(string path) => Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0x180);

        public static SafeFileHandle OpenLockFile(string path) => Open(path, O_RDWR | O_CREAT, 0x180);

        /// <summary>For a log several processes write: every write lands at the end of the file, whole (O_APPEND).</summary>
        public static SafeFileHandle OpenForAppend(string path) => Open(path, O_WRONLY | O_CREAT | O_APPEND, 0x1A0);

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

        private static SafeFileHandle Open(string path, int flags, int mode)
        {
            int fd;
            do fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
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
}

internal sealed class FileCallException(string call, string path, int errno)
    : IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;
    public bool IsSymlinkRefused => Errno == 40; // ELOOP from O_NOFOLLOW
}
