using LibvirtShim.State;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>The state directory's locks, for tests that read or write its files as the hook does.</summary>
internal static class StateLeases
{
    public static StateLease ToChange(string stateDir) => new StateStore(stateDir, TimeSpan.FromSeconds(5)).LockToChange();

    public static StateReadLease ToRead(string stateDir) => new StateStore(stateDir, TimeSpan.FromSeconds(5)).LockToRead();

    /// <summary>The newest release per domain, read under the lock to read.</summary>
    public static List<ReleaseEntry> Releases(string stateDir)
    {
        using StateReadLease lease = ToRead(stateDir);
        return ReleaseHistory.Read(lease);
    }

    public static void Record(string stateDir, ReleaseEntry entry)
    {
        using StateLease lease = ToChange(stateDir);
        ReleaseHistory.Record(lease, entry);
    }

    public static string PathOf(string stateDir, StateFile file) => Path.Combine(stateDir, file.Name);
}
