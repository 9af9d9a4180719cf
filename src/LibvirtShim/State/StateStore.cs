using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using LibvirtShim.Net;
using LibvirtShim.Messages;

namespace LibvirtShim.State;

/// <summary>
/// The shared state on disk: a lock file that every reader and writer holds (flock on its own descriptor, released
/// by the kernel when a holder dies) and a state file replaced atomically by rename, so a crash leaves the old or
/// the new state, never a torn one.
/// </summary>
internal sealed class StateStore(string directory, TimeSpan lockTimeout)
{
    private byte[]? _saveBuffer;

    public string Directory { get; } = StateDirectory.Canonical(directory);
    public string StatePath => Path.Combine(Directory, "state");
    private string LockPath => Path.Combine(Directory, "lock");

    /// <summary>Waits (bounded) for the lock. Everything read or written through the returned lease is under it.</summary>
    public StateLease Lock()
    {
        try
        {
            StateDirectory.Ensure(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
        SafeFileHandle handle = StateDirectory.OpenLockFile(LockPath);
        try
        {
            WaitForLock(handle);
            return new StateLease(this, handle);
        }
        catch (Exception e)
        {
            handle.Dispose();
            if (e is IOException or UnauthorizedAccessException) throw ShimFailure.OfFile(e);
            throw;
        }
    }

    private void WaitForLock(SafeFileHandle handle)
    {
        var waited = Stopwatch.StartNew();
        int pause = 1;
        while (!Interop.Files.TryLockExclusive(handle, LockPath))
        {
            if (waited.Elapsed >= lockTimeout)
                throw ShimFailure.WithoutDomain(
                    $"timed out after {lockTimeout.TotalSeconds:0} s waiting for the state lock {LockPath} (another libvirt-shim holds it; " +
                        "LockTimeoutSeconds sets the wait)",
                    "if no guest is starting or stopping, a libvirt-shim process may hang: look for one with 'ps -C libvirt-shim -C qemu -f' " +
                        "and at the log");
            Thread.Sleep(pause);
            pause = Math.Min(pause * 2, 20);
        }
    }

    internal StateLoad Load(NameScheme scheme)
    {
        byte[] bytes;
        try
        {
            StateDirectory.CheckFile(StatePath);
            using SafeFileHandle handle = Interop.Files.OpenForRead(StatePath);
            long length = RandomAccess.GetLength(handle);
            if (length > StateCodec.MaxFileBytes)
                return StateLoad.Invalid($"state file is {length} bytes, " +
                    $"larger than any state libvirt-shim writes ({StateCodec.MaxFileBytes} at most)");
            bytes = GC.AllocateUninitializedArray<byte>((int)length);
            int read = 0;
            while (read < bytes.Length)
            {
                int n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
                if (n == 0) break;
                read += n;
            }
            if (read < bytes.Length) Array.Resize(ref bytes, read);
        }
        catch (FileCallException e) when (e.IsMissing)
        {
            return StateLoad.Missing();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
        try
        {
            return StateLoad.Loaded(StateCodec.Decode(bytes, scheme));
        }
        catch (StateFormatException e)
        {
            return StateLoad.Invalid(e.Message);
        }
    }

    internal void Save(NameState state)
    {
        int length = StateCodec.Encode(state, ref _saveBuffer);
        StateFiles.Replace(StatePath, _saveBuffer.AsSpan(0, length));
    }
}

/// <summary>The result of reading the state file: a state, or why there is none to trust.</summary>
internal readonly record struct StateLoad(NameState? State, string? Problem)
{
    public static StateLoad Loaded(NameState state) => new(state, null);
    public static StateLoad Missing() => new(null, "no state file yet");
    public static StateLoad Invalid(string reason) => new(null, reason);
}

/// <summary>Holding the state lock. Dispose releases it.</summary>
internal sealed class StateLease(StateStore store, SafeFileHandle lockHandle) : IDisposable
{
    public StateLoad Load(NameScheme scheme) => store.Load(scheme);
    public void Save(NameState state) => store.Save(state);
    public void Dispose() => lockHandle.Dispose();
}
