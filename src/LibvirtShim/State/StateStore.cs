using System.Diagnostics;
using LibvirtShim.Messages;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.State;

/// <summary>
/// The state directory and its lock, a file every reader and writer holds an flock on (on its own descriptor, so the
/// kernel releases it when a holder dies). Two kinds of lock, named for what they allow: <see cref="LockToChange"/>
/// (exclusive: read and write the state; the hook and the verbs that change something) and <see cref="LockToRead"/>
/// (shared with other readers: read a consistent state and change nothing; status, doctor, explain). Every file of the
/// directory is reached through the lease a lock returns (<see cref="StateFiles"/>).
/// </summary>
internal sealed class StateStore
{
    /// <summary>A reader waits at most this long, however long a writer may wait.</summary>
    private static readonly TimeSpan MaxReadWait = TimeSpan.FromSeconds(5);

    private readonly TimeSpan _changeTimeout, _readTimeout;
    private byte[]? _saveBuffer;

    /// <param name="lockTimeout">How long <see cref="LockToChange"/> waits (LockTimeoutSeconds); <see cref="LockToRead"/> waits 5 s at most.</param>
    public StateStore(string directory, TimeSpan lockTimeout)
    {
        Directory = StateDirectory.Canonical(directory);
        Files = new StateFiles(Directory);
        _changeTimeout = lockTimeout;
        _readTimeout = lockTimeout < MaxReadWait ? lockTimeout : MaxReadWait;
    }

    public string Directory { get; }
    internal StateFiles Files { get; }
    public string StatePath => Files.PathOf(StateFile.State);
    private string LockPath => Files.PathOf(StateFile.Lock);

    /// <summary>
    /// The lock to change the state: creates the directory (0700) and the lock file when missing, waits (bounded by
    /// LockTimeoutSeconds) for every other holder to let go. Everything read or written through the lease is under it.
    /// </summary>
    public StateLease LockToChange()
    {
        try
        {
            StateDirectory.Ensure(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
        SafeFileHandle handle = OpenLockFile(Interop.Files.OpenLockFile);
        WaitForLock(handle, Interop.Files.TryLockExclusive, _changeTimeout, "LockTimeoutSeconds sets the wait");
        return new StateLease(this, handle);
    }

    /// <summary>
    /// The lock to read a consistent state: shared with other readers, it waits (5 s at most) only for a writer. It creates
    /// nothing: without a state directory or a lock file there is nothing to wait for, and the lease reads what is there
    /// (files are only ever replaced whole).
    /// </summary>
    public StateReadLease LockToRead()
    {
        try
        {
            if (!StateDirectory.Exists(Directory)) return new StateReadLease(this, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
        SafeFileHandle handle;
        try
        {
            handle = OpenLockFile(Interop.Files.OpenExistingLockFile);
        }
        catch (ShimFailure e) when (e.InnerException is FileCallException { IsMissing: true })
        {
            return new StateReadLease(this, null);
        }
        WaitForLock(handle, Interop.Files.TryLockShared, _readTimeout, "a reader waits 5 s at most");
        return new StateReadLease(this, handle);
    }

    private SafeFileHandle OpenLockFile(Func<string, SafeFileHandle> open)
    {
        try
        {
            return StateFiles.OpenChecked(LockPath, StateFile.Lock, open, out _);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }

    /// <summary>Takes the lock on <paramref name="handle"/>, bounded by <paramref name="timeout"/>; the handle is closed when that fails.</summary>
    private void WaitForLock(SafeFileHandle handle, Func<SafeFileHandle, string, bool> tryLock, TimeSpan timeout, string whatSetsTheWait)
    {
        try
        {
            var waited = Stopwatch.StartNew();
            int pause = 1;
            while (!tryLock(handle, LockPath))
            {
                if (waited.Elapsed >= timeout)
                    throw ShimFailure.WithoutDomain(
                        $"timed out after {timeout.TotalSeconds:0} s waiting for the state lock {LockPath} (another libvirt-shim holds it; " +
                            $"{whatSetsTheWait})",
                        "if no guest is starting or stopping, a libvirt-shim process may hang: look for one with 'ps -C libvirt-shim -C qemu -f' " +
                            "and at the log");
                Thread.Sleep(pause);
                pause = Math.Min(pause * 2, 20);
            }
        }
        catch (Exception e)
        {
            handle.Dispose();
            if (e is IOException or UnauthorizedAccessException) throw ShimFailure.OfFile(e);
            throw;
        }
    }

    internal StateLoad Load(NameScheme scheme)
    {
        StateFileContent content = Files.Read(StateFile.State, (int)StateCodec.MaxFileBytes);
        if (!content.Exists) return StateLoad.Missing();
        if (content.IsTooLarge)
            return StateLoad.Invalid($"state file is {content.Length} bytes, " +
                $"larger than any state libvirt-shim writes ({StateCodec.MaxFileBytes} at most)", content.ModifiedAt);
        try
        {
            return StateLoad.Loaded(StateCodec.Decode(content.Bytes!, scheme), content.ModifiedAt);
        }
        catch (StateFormatException e)
        {
            return StateLoad.Invalid(e.Message, content.ModifiedAt);
        }
    }

    internal void Save(NameState state)
    {
        int length = StateCodec.Encode(state, ref _saveBuffer);
        Files.Replace(StateFile.State, _saveBuffer.AsSpan(0, length));
    }
}

/// <summary>
/// The result of reading the state file: a state, or why there is none to trust. <see cref="WrittenAt"/>: when the file
/// was last written (unix seconds), 0 when there is none.
/// </summary>
internal readonly record struct StateLoad(NameState? State, string? Problem, long WrittenAt = 0)
{
    public static StateLoad Loaded(NameState state, long writtenAt = 0) => new(state, null, writtenAt);
    public static StateLoad Missing() => new(null, "no state file yet");
    public static StateLoad Invalid(string reason, long writtenAt = 0) => new(null, reason, writtenAt);
}

/// <summary>Holding the lock to read (<see cref="StateStore.LockToRead"/>): the state and the other files, read only. Dispose releases it.</summary>
internal class StateReadLease(StateStore store, SafeFileHandle? lockHandle) : IDisposable
{
    protected StateStore Store { get; } = store;

    public StateLoad Load(NameScheme scheme) => Store.Load(scheme);

    /// <summary>Another file of the state directory (<see cref="StateFiles.Read"/>).</summary>
    public StateFileContent Read(StateFile file, int maxBytes) => Store.Files.Read(file, maxBytes);

    public void Dispose()
    {
        lockHandle?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Holding the lock to change the state (<see cref="StateStore.LockToChange"/>): reads, and writes. Dispose releases it.</summary>
internal sealed class StateLease(StateStore store, SafeFileHandle lockHandle) : StateReadLease(store, lockHandle)
{
    public void Save(NameState state) => Store.Save(state);

    /// <summary>Replaces another file of the state directory atomically (<see cref="StateFiles.Replace"/>).</summary>
    public void Replace(StateFile file, ReadOnlySpan<byte> bytes) => Store.Files.Replace(file, bytes);

    /// <summary>Appends to another file of the state directory (<see cref="StateFiles.Append"/>); returns its new length.</summary>
    public long Append(StateFile file, ReadOnlySpan<byte> bytes) => Store.Files.Append(file, bytes);
}
