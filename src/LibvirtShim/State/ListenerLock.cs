using System.Diagnostics;
using System.Text;
using LibvirtShim.Messages;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.State;

/// <summary>What a look at the listener's lock found.</summary>
internal enum ListenerPresence
{
    /// <summary>No listener has been connected to libvirt since boot (no lock file).</summary>
    Absent,

    /// <summary>A listener was connected once and none is now: it stopped, died, or is waiting for libvirt.</summary>
    Gone,

    /// <summary>A listener connected to libvirt holds the lock: it brings the hook's links up and down.</summary>
    Connected,

    /// <summary>The lock file could not be looked at (a symbolic link, an I/O error): as good as no listener.</summary>
    Unknown,
}

/// <summary>
/// How a hook call knows, without asking libvirt and without waiting, that a listener (<c>libvirt-shim watch</c>) will bring
/// the links it creates up when the guest's vCPUs run: the listener holds an exclusive flock on
/// <see cref="StateFile.ListenerLive"/> for as long as it is connected to libvirt, and a look takes a shared one without
/// waiting (open, flock, close). A listener holds a second lock, <see cref="StateFile.ListenerInstance"/> (its pid inside),
/// for its whole life: one listener per state directory.
/// </summary>
internal static class ListenerLock
{
    /// <summary>Never throws and never waits: a lock file that cannot be looked at is <see cref="ListenerPresence.Unknown"/>.</summary>
    public static ListenerPresence Probe(string stateDir)
    {
        string path = Path.Combine(stateDir, StateFile.ListenerLive.Name);
        try
        {
            using SafeFileHandle handle = Interop.Files.OpenExistingLockFile(path);
            return Interop.Files.TryLockShared(handle, path) ? ListenerPresence.Gone : ListenerPresence.Connected;
        }
        catch (FileCallException e) when (e.IsMissing)
        {
            return ListenerPresence.Absent;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ListenerPresence.Unknown;
        }
    }

    /// <summary>
    /// The listener's lock while it is connected; dispose it when the connection goes. Hooks hold a shared lock for
    /// microseconds: this waits for them up to <paramref name="wait"/>, then fails (something else holds it).
    /// </summary>
    public static SafeFileHandle HoldLive(string stateDir, TimeSpan wait)
    {
        SafeFileHandle handle = OpenLockFile(stateDir, StateFile.ListenerLive, out string path);
        var waited = Stopwatch.StartNew();
        try
        {
            while (!Interop.Files.TryLockExclusive(handle, path))
            {
                if (waited.Elapsed >= wait)
                    throw ShimFailure.WithoutDomain($"{path} stayed locked for {wait.TotalSeconds:0.#} s: another process holds it",
                        "'fuser -v " + path + "' names it");
                Thread.Sleep(1);
            }
            return handle;
        }
        catch (Exception e)
        {
            handle.Dispose();
            if (e is IOException or UnauthorizedAccessException) throw ShimFailure.OfFile(e);
            throw;
        }
    }

    /// <summary>The listener's lock for its whole life, with its pid written in; fails naming the pid of a listener already there.</summary>
    public static SafeFileHandle HoldInstance(string stateDir, int pid)
    {
        SafeFileHandle handle = OpenLockFile(stateDir, StateFile.ListenerInstance, out string path);
        try
        {
            if (!Interop.Files.TryLockExclusive(handle, path))
                throw ShimFailure.WithoutDomain($"another libvirt-shim watch runs for state directory {stateDir} (pid {RunningPid(stateDir)})",
                    "one listener per host is enough: stop the other one first");
            // Fixed width: a shorter pid than the last one's leaves nothing of it behind.
            RandomAccess.Write(handle, Encoding.ASCII.GetBytes($"{pid,-10}\n"), 0);
            return handle;
        }
        catch (Exception e)
        {
            handle.Dispose();
            if (e is IOException or UnauthorizedAccessException) throw ShimFailure.OfFile(e);
            throw;
        }
    }

    /// <summary>The pid in <see cref="StateFile.ListenerInstance"/>, or "unknown".</summary>
    public static string RunningPid(string stateDir)
    {
        try
        {
            using SafeFileHandle handle = Interop.Files.OpenExisting(Path.Combine(stateDir, StateFile.ListenerInstance.Name));
            Span<byte> bytes = stackalloc byte[16];
            int read = RandomAccess.Read(handle, bytes, 0);
            return int.TryParse(Encoding.ASCII.GetString(bytes[..read]).Trim(), out int pid) && pid > 0 ? pid.ToString() : "unknown";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary>The state directory made and checked, then the lock file opened (created 0600) and checked as every file of it is.</summary>
    private static SafeFileHandle OpenLockFile(string stateDir, StateFile file, out string path)
    {
        path = Path.Combine(StateDirectory.Canonical(stateDir), file.Name);
        try
        {
            StateDirectory.Ensure(stateDir);
            return StateFiles.OpenChecked(path, file, Interop.Files.OpenLockFile, out _);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }
}
