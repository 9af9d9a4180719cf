using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

internal static partial class Interop
{
    /// <summary>File calls .NET does not offer: open without following symlinks, flock, fsync, statx's owner and mode, access.</summary>
    internal static partial class Files
    {
        private const int O_RDONLY = 0x0, O_RDWR = 0x2, O_WRONLY = 0x1, O_CREAT = 0x40, O_EXCL = 0x80, O_APPEND = 0x400;
        private const int O_NONBLOCK = 0x800, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
        private const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
        private const int OwnerReadWrite = 0x180;
        private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000, STATX_BASIC_STATS = 0x7ff;
        private const int W_OK = 2;
        private const uint S_IFCHR = 0x2000;

        /// <summary>
        /// An existing file, not through a symbolic link (ELOOP), and without waiting should it be a FIFO: the caller checks
        /// what it opened with <see cref="Facts"/>.
        /// </summary>
        public static SafeFileHandle OpenExisting(string path) => Open(path, O_RDONLY | O_NONBLOCK, 0);

        /// <summary>A new file, mode 0600 (less by the umask), that must not exist yet: nothing that was there is written through.</summary>
        public static SafeFileHandle CreateNew(string path) => Open(path, O_WRONLY | O_CREAT | O_EXCL, OwnerReadWrite);

        /// <summary>
        /// An input file given by name (settings, a domain XML), symlinks followed: open(2) of a FIFO would wait for a
        /// writer forever, so it opens without waiting and refuses anything but a regular file.
        /// </summary>
        public static SafeFileHandle OpenRegularForRead(string path) =>
            RequireRegularFile(Open(path, O_RDONLY | O_NONBLOCK, 0, follow: true), path);

        /// <summary>A lock file, created 0600 when missing, never through a symbolic link, without waiting should it be a FIFO.</summary>
        public static SafeFileHandle OpenLockFile(string path) => Open(path, O_RDWR | O_CREAT | O_NONBLOCK, OwnerReadWrite);

        /// <summary>A lock file that must exist already (a reader creates nothing).</summary>
        public static SafeFileHandle OpenExistingLockFile(string path) => Open(path, O_RDONLY | O_NONBLOCK, 0);

        /// <summary>
        /// For a log several processes write: every write lands at the end of the file, whole (O_APPEND). A FIFO in its
        /// place would block the open, or every write once its reader stops: only a regular file is used.
        /// </summary>
        public static SafeFileHandle OpenForAppend(string path) =>
            RequireRegularFile(Open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0x1A0), path);

        /// <summary>
        /// As <see cref="OpenForAppend"/>, for a file only its owner reads (created 0600) and that the caller checks with
        /// <see cref="Facts"/>.
        /// </summary>
        public static SafeFileHandle OpenPrivateForAppend(string path) => Open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, OwnerReadWrite);

        /// <summary>One write(2) of all the bytes (a short write, rare for a regular file, is finished by more writes).</summary>
        public static unsafe void Append(SafeFileHandle handle, ReadOnlySpan<byte> bytes, string path)
        {
            while (!bytes.IsEmpty)
            {
                nint written;
                Errno errno;
                fixed (byte* p = bytes)
                    written = Retrying((handle, (nint)p, (nuint)bytes.Length), static a => write(a.Item1, (byte*)a.Item2, a.Item3), out errno);
                if (written < 0) throw new FileCallException("write", path, errno);
                bytes = bytes[(int)written..];
            }
        }

        /// <summary>Takes an exclusive flock without waiting; false when another open file description holds it.</summary>
        public static bool TryLockExclusive(SafeFileHandle handle, string path) => TryLock(handle, path, LOCK_EX);

        /// <summary>Takes a shared flock without waiting (readers share it, an exclusive holder excludes them); false when one is held.</summary>
        public static bool TryLockShared(SafeFileHandle handle, string path) => TryLock(handle, path, LOCK_SH);

        private static bool TryLock(SafeFileHandle handle, string path, int kind)
        {
            if (Retrying((handle, kind), static a => flock(a.handle, a.kind | LOCK_NB), out Errno errno) == 0) return true;
            return errno == Errno.EAGAIN ? false : throw new FileCallException("flock", path, errno);
        }

        public static void Sync(SafeFileHandle handle, string path)
        {
            if (fsync(handle) != 0) throw new FileCallException("fsync", path, LastErrno());
        }

        /// <summary>What an open descriptor is: type, owner, mode, size (fstat, so it is the file opened, not what the path names now).</summary>
        public static unsafe FileFacts Facts(SafeFileHandle handle, string path)
        {
            StatxBuffer buffer;
            if (statx(handle, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &buffer) != 0) throw new FileCallException("statx", path, LastErrno());
            return FactsOf(buffer);
        }

        /// <summary>The path itself, not following a final symlink; null if it does not exist.</summary>
        public static FileFacts? Lstat(string path)
        {
            Errno errno = Statx(path, AT_SYMLINK_NOFOLLOW, out FileFacts facts);
            if (errno == Errno.None) return facts;
            return errno == Errno.ENOENT ? null : throw new FileCallException("statx", path, errno);
        }

        /// <summary>The path as another process would look at it (symlinks followed or not); null when that fails for any reason.</summary>
        public static FileFacts? Probe(string path, bool followSymlinks) =>
            Statx(path, followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW, out FileFacts facts) == Errno.None ? facts : null;

        public static bool IsWritable(string path) => access(path, W_OK) == 0;

        public static uint EffectiveUserId() => geteuid();

        /// <summary>
        /// A character device node for <paramref name="device"/> at <paramref name="path"/> (a file there is replaced):
        /// root's, mode 0600 whatever the umask (what devtmpfs makes for a macvtap). A root process with the usual umask
        /// pays one mknod; the owner and mode are set afterwards only where they would differ.
        /// </summary>
        public static void MakeCharacterDevice(string path, DeviceNumber device)
        {
            ulong dev = ((ulong)(device.Major & 0xfffff000) << 32) | ((ulong)(device.Major & 0xfff) << 8)
                | ((ulong)(device.Minor & 0xffffff00) << 12) | (device.Minor & 0xff);
            Errno errno = MakeNode(path, dev);
            if (errno == Errno.EEXIST)
            {
                File.Delete(path);
                errno = MakeNode(path, dev);
            }
            if (errno != Errno.None) throw new FileCallException("mknod", path, errno);
            if ((geteuid() != 0 || getegid() != 0) && lchown(path, 0, 0) != 0) throw new FileCallException("lchown", path, LastErrno());
            if ((ProcessUmask.Value & 0x180) != 0 && chmod(path, 0x180) != 0) throw new FileCallException("chmod", path, LastErrno());
        }

        private static Errno MakeNode(string path, ulong dev)
        {
            Retrying((path, dev), static a => mknod(a.path, S_IFCHR | 0x180, a.dev), out Errno errno);
            return errno;
        }

        /// <summary>The process's umask, read once (umask(2) can only be read by setting it, so it is set back at once).</summary>
        private static readonly Lazy<uint> ProcessUmask = new(() =>
        {
            uint mask = umask(0x12);
            umask(mask);
            return mask;
        });

        /// <summary>
        /// The first bytes of a small file (a sysfs attribute) into <paramref name="buffer"/>: open, one read, close, nothing
        /// allocated. Returns how many bytes were read.
        /// </summary>
        public static unsafe int ReadSmall(string path, Span<byte> buffer)
        {
            using SafeFileHandle handle = Open(path, O_RDONLY, 0, follow: true);
            nint read;
            Errno errno;
            fixed (byte* p = buffer)
                read = Retrying((handle, (nint)p, (nuint)buffer.Length), static a => ReadFile(a.Item1, (byte*)a.Item2, a.Item3), out errno);
            if (read < 0) throw new FileCallException("read", path, errno);
            return (int)read;
        }

        /// <summary>rename(2): <paramref name="to"/>, whatever non-directory it is (a symbolic link itself, not its target), replaced
        /// atomically.</summary>
        public static void Rename(string from, string to)
        {
            if (Retrying((from, to), static a => rename(a.from, a.to), out Errno errno) < 0) throw new FileCallException("rename", to, errno);
        }

        private static SafeFileHandle RequireRegularFile(SafeFileHandle handle, string path)
        {
            FileFacts found;
            try
            {
                found = Facts(handle, path);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            if (found.IsRegularFile) return handle;
            handle.Dispose();
            throw new NotRegularFileException(path, found.TypeName);
        }

        private static SafeFileHandle Open(string path, int flags, int mode, bool follow = false)
        {
            int all = flags | (follow ? 0 : O_NOFOLLOW) | O_CLOEXEC;
            nint fd = Retrying((path, all, mode), static a => open(a.Item1, a.Item2, a.Item3), out Errno errno);
            if (fd < 0) throw new FileCallException("open", path, errno);
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        private static unsafe Errno Statx(string path, int flags, out FileFacts facts)
        {
            StatxBuffer buffer;
            if (statx(AT_FDCWD, path, flags, STATX_BASIC_STATS, &buffer) != 0)
            {
                facts = default;
                return LastErrno();
            }
            facts = FactsOf(buffer);
            return Errno.None;
        }

        private static FileFacts FactsOf(in StatxBuffer buffer) =>
            new(buffer.Uid, buffer.Mode, buffer.Inode, ((ulong)buffer.DeviceMajor << 32) | buffer.DeviceMinor,
                buffer.ChangedAt.Seconds * 1_000_000_000 + buffer.ChangedAt.Nanoseconds, buffer.ModifiedAt.Seconds, (long)buffer.Size,
                new DeviceNumber(buffer.RawDeviceMajor, buffer.RawDeviceMinor), buffer.Gid);

        /// <summary>struct statx of linux/stat.h: 256 bytes, of which these are read.</summary>
        [StructLayout(LayoutKind.Sequential, Size = 256)]
        private struct StatxBuffer
        {
            public uint Mask, BlockSize;
            public ulong Attributes;
            public uint LinkCount, Uid, Gid;
            public ushort Mode;
            private ushort _spare;
            public ulong Inode, Size, Blocks, AttributesMask;
            public StatxTimestamp AccessedAt, BornAt, ChangedAt, ModifiedAt;
            public uint RawDeviceMajor, RawDeviceMinor, DeviceMajor, DeviceMinor;
        }

        private struct StatxTimestamp
        {
            public long Seconds;
            public uint Nanoseconds;
            private int _reserved;
        }

        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int open(string path, int flags, int mode);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int flock(SafeFileHandle fd, int operation);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int fsync(SafeFileHandle fd);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial nint write(SafeFileHandle fd, byte* buffer, nuint count);

        [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
        private static unsafe partial nint ReadFile(SafeFileHandle fd, byte* buffer, nuint count);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int statx(int dirfd, string path, int flags, int mask, StatxBuffer* buffer);

        [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int statx(SafeFileHandle fd, string path, int flags, int mask, StatxBuffer* buffer);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int access(string path, int mode);

        [LibraryImport("libc")]
        private static partial uint geteuid();

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int mknod(string path, uint mode, ulong device);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int lchown(string path, uint owner, uint group);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int chmod(string path, uint mode);

        [LibraryImport("libc")]
        private static partial uint umask(uint mask);

        [LibraryImport("libc")]
        private static partial uint getegid();

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int rename(string from, string to);
    }

    internal static partial class Process
    {
        private const int _SC_CLK_TCK = 2;

        /// <summary>The unit of the times in /proc/PID/stat (USER_HZ, 100 almost everywhere).</summary>
        public static long ClockTicksPerSecond => sysconf(_SC_CLK_TCK) is > 0 and var ticks ? ticks : 100;

        [LibraryImport("libc")]
        private static partial long sysconf(int name);
    }
}

/// <summary>A device number (major, minor), as a device node holds it and sysfs writes it ("246:3").</summary>
internal readonly record struct DeviceNumber(uint Major, uint Minor)
{
    public override string ToString() => $"{Major}:{Minor}";
}

/// <summary>What statx says of a path: owner, type and permission bits, identity, ctime (nanoseconds since the epoch), mtime (seconds),
/// size, and for a device node the device it names (<see cref="RawDevice"/>) and its group.</summary>
internal readonly record struct FileFacts(
    uint Uid, ushort Mode, ulong Inode, ulong Device, long ChangedAtNanoseconds, long ModifiedAt, long Size, DeviceNumber RawDevice = default,
    uint Gid = 0)
{
    public bool IsSymlink => (Mode & 0xF000) == 0xA000;
    public bool IsCharacterDevice => (Mode & 0xF000) == 0x2000;
    public bool IsDirectory => (Mode & 0xF000) == 0x4000;
    public bool IsRegularFile => (Mode & 0xF000) == 0x8000;
    public bool IsExecutable => (Mode & 0x49) != 0;
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
