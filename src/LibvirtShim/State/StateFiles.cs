using LibvirtShim.Messages;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.State;

/// <summary>
/// A file of the state directory: its name there, and what messages call it. Every file under StateDir is one of these,
/// read and written only through a lease of <see cref="StateStore"/> (so under the lock), by <see cref="StateFiles"/>.
/// A new file is one more instance here, read with <see cref="StateReadLease.Read"/> and written with
/// <see cref="StateLease.Replace"/> (or <see cref="StateLease.Append"/>): it gets every check and the atomic replace.
/// </summary>
internal sealed record StateFile(string Name, string What)
{
    /// <summary>The bitmap and the records (<see cref="StateCodec"/>).</summary>
    public static readonly StateFile State = new("state", "state file");

    /// <summary>The lock every reader and writer holds; it has no content.</summary>
    public static readonly StateFile Lock = new("lock", "lock file");

    /// <summary>The last release of each domain (<see cref="ReleaseHistory"/>).</summary>
    public static readonly StateFile Releases = new("releases", "release history");

    /// <summary>The definitions seen while they held names (<see cref="SeenDefinitions"/>).</summary>
    public static readonly StateFile Definitions = new("definitions", "definitions file");

    /// <summary>
    /// The lock a listener (libvirt-shim watch) holds while it is connected to libvirt, and hook calls look at
    /// (<see cref="ListenerLock"/>); it has no content.
    /// </summary>
    public static readonly StateFile ListenerLive = new("listener", "listener's lock");

    /// <summary>The lock a listener holds for its whole life, with its pid inside: one listener per state directory.</summary>
    public static readonly StateFile ListenerInstance = new("listener.pid", "listener's pid file");

    /// <summary>
    /// What the listener has done (<see cref="ListenerMetrics"/>). The listener replaces it without the state lock, which it never
    /// takes (hook calls must not wait for it): it is the file's one writer (<see cref="ListenerInstance"/>), and a replacement is
    /// atomic, so a reader under its own lock reads the old figures or the new.
    /// </summary>
    public static readonly StateFile ListenerMetrics = new("listener.metrics", "listener's figures");

    /// <summary>The temporary file a replacement is written to before it is renamed over the file.</summary>
    public string TemporaryName => Name + ".new";
}

/// <summary>What <see cref="StateFiles.Read"/> found: the bytes, or none (<see cref="Exists"/> false), or a file too large to read.</summary>
internal readonly record struct StateFileContent(byte[]? Bytes, long Length, long ModifiedAt)
{
    public static StateFileContent Missing => new(null, 0, 0);

    public bool Exists => Length > 0 || Bytes is not null;

    /// <summary>There is a file, larger than the reader accepts; <see cref="Bytes"/> is null.</summary>
    public bool IsTooLarge => Bytes is null && Length > 0;
}

/// <summary>
/// The one reader and the one writer of the files in the state directory. Never through a symbolic link (O_NOFOLLOW);
/// only a regular file, owned by root or the user running the hook and writable by nobody else, checked on the open
/// descriptor (a FIFO is not waited for); created with mode 0600. A file is replaced atomically: written to a new
/// temporary file (whatever stood there removed first, never written through), fsync'd and renamed over the file, so
/// that a crash leaves the old content or the new, never a torn one. The directory is not fsync'd: a rename lost to a
/// power cut leaves the old content, which every reader takes as it takes any older state (links carry their marks),
/// and StateDir is normally a tmpfs a reboot empties; on a disk it would cost a journal commit per call
/// (bench/RESULTS.md). Appending (the release history) is one write(2) at the end. The caller holds the lock:
/// <see cref="StateStore"/>'s leases are the way in.
/// </summary>
internal sealed class StateFiles(string directory)
{
    public string Directory { get; } = directory;

    public string PathOf(StateFile file) => Path.Combine(Directory, file.Name);

    /// <summary>
    /// The file's bytes. Missing when there is no file; too large (no bytes, its length) when longer than
    /// <paramref name="maxBytes"/>. Refused (<see cref="ShimFailure"/>) when it is not a file the hook may trust.
    /// </summary>
    public StateFileContent Read(StateFile file, int maxBytes)
    {
        string path = PathOf(file);
        try
        {
            using SafeFileHandle handle = OpenChecked(path, file, Interop.Files.OpenExisting, out FileFacts facts);
            if (facts.Size > maxBytes) return new StateFileContent(null, facts.Size, facts.ModifiedAt);
            byte[] bytes = GC.AllocateUninitializedArray<byte>((int)facts.Size);
            int read = 0;
            while (read < bytes.Length)
            {
                int n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
                if (n == 0) break;
                read += n;
            }
            if (read < bytes.Length) Array.Resize(ref bytes, read);
            return new StateFileContent(bytes, bytes.Length, facts.ModifiedAt);
        }
        catch (FileCallException e) when (e.IsMissing)
        {
            return StateFileContent.Missing;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }

    /// <summary>Replaces the file's content atomically (see the class).</summary>
    public void Replace(StateFile file, ReadOnlySpan<byte> bytes)
    {
        string path = PathOf(file), temporary = Path.Combine(Directory, file.TemporaryName);
        try
        {
            // Whatever a crash (or anyone) left there, even a link to another file, is removed rather than written through.
            File.Delete(temporary);
            using (SafeFileHandle handle = Interop.Files.CreateNew(temporary))
            {
                RandomAccess.Write(handle, bytes, 0);
                Interop.Files.Sync(handle, temporary);
            }
            if (Interop.Files.Lstat(path) is { } existing) RefuseUnsafe(path, file, existing, temporary);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }

    /// <summary>Appends <paramref name="bytes"/> in one write(2) at the end of the file (created when missing); returns its new length.</summary>
    public long Append(StateFile file, ReadOnlySpan<byte> bytes)
    {
        string path = PathOf(file);
        try
        {
            using SafeFileHandle handle = OpenChecked(path, file, Interop.Files.OpenPrivateForAppend, out _);
            Interop.Files.Append(handle, bytes, path);
            return RandomAccess.GetLength(handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }

    /// <summary>Opens a file of the state directory and checks what was opened (not what the path names a moment later).</summary>
    internal static SafeFileHandle OpenChecked(string path, StateFile file, Func<string, SafeFileHandle> open, out FileFacts facts)
    {
        SafeFileHandle handle;
        try
        {
            handle = open(path);
        }
        catch (FileCallException e) when (e.IsSymlinkRefused)
        {
            throw StateDirectory.Refused($"{file.What} {path} is a symbolic link; refusing to use it");
        }
        catch (FileCallException e) when (e.Errno == Errno.ENXIO)
        {
            // Opening a FIFO to write without waiting, with no reader: it is not a file.
            throw StateDirectory.Refused($"{file.What} {path} is not a regular file");
        }
        try
        {
            facts = Interop.Files.Facts(handle, path);
            StateDirectory.RefuseUnsafe(path, facts, expectDirectory: false, file.What);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void RefuseUnsafe(string path, StateFile file, FileFacts existing, string temporary)
    {
        try
        {
            StateDirectory.RefuseUnsafe(path, existing, expectDirectory: false, file.What);
        }
        catch (ShimFailure)
        {
            File.Delete(temporary);
            throw;
        }
    }
}
