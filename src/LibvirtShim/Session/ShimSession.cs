using LibvirtShim.State;

namespace LibvirtShim.Session;

/// <summary>
/// The state, read under the lock. A missing or untrustworthy state file is rebuilt by seeding before anyone
/// uses it. Changes reach the disk only through <see cref="Commit"/>. The context is the session's own, for seeding:
/// operations get the links, the log and the settings they use as arguments, never through a session.
/// </summary>
internal sealed class ShimSession : IDisposable
{
    private readonly ShimContext _context;
    private readonly StateLease _lease;

    private ShimSession(ShimContext context, StateLease lease, NameState state)
    {
        _context = context;
        _lease = lease;
        State = state;
    }

    public NameState State { get; private set; }

    /// <summary>The lock to change the state, through which the session's other files are read and written.</summary>
    public StateLease Lease => _lease;

    /// <summary>The seeding <see cref="Open"/> did because the state was missing or untrusted; null when it was read.</summary>
    public SeedReport? Seeded { get; private set; }

    public static ShimSession Open(ShimContext context)
    {
        StateLease lease = context.Store.LockToChange();
        try
        {
            StateLoad load = lease.Load(context.Scheme);
            var session = new ShimSession(context, lease, load.State ?? new NameState(context.Scheme));
            if (load.State is null)
            {
                context.Log.Warning("State {StateDir} not used ({Problem}); rebuilding it by seeding", context.Settings.StateDir, load.Problem);
                session.Seeded = session.Reseed(previous: null);
            }
            else if (load.State.Skipped.Count > 0)
            {
                foreach (string skipped in load.State.Skipped)
                    context.Log.Warning("State {StateDir}: {Problem}", context.Settings.StateDir, skipped);
                context.Log.Warning("State {StateDir}: completing the other records by seeding", context.Settings.StateDir);
                session.Reseed(previous: load.State);
            }
            return session;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Rebuilds the state from the running guests, the definitions and the kernel, frees the names of definitions that are
    /// gone (held for one seen here before), then commits it.
    /// </summary>
    public SeedReport Reseed(NameState? previous)
    {
        SeedReport report = SeedState.Run(_context.Settings, _context.Links, _context.OpenGuards, _context.Taps, _context.Marker, _context.Scheme,
            _context.Log, _context.Now, previous);
        State = report.State;
        foreach (NameRecord gone in GoneDefinitions.Free(_context.Settings, _lease, State, _context.Now))
            _context.Log.Information("Seeding: name {Name} freed: the definition of domain {Domain} that held it is gone", gone.Name,
                gone.DomainName);
        Commit();
        return report;
    }

    public void Commit() => _lease.Save(State);

    /// <summary>
    /// For a call that fails after looking at the kernel: the links it found on names nobody had recorded (as foreign
    /// records) and where its search got to are written into the state as it is on disk, and nothing else of the call.
    /// </summary>
    public void CommitFound(IReadOnlyList<NameRecord> found, uint cursor)
    {
        if (_lease.Load(State.Scheme).State is not { } onDisk || (found.Count == 0 && onDisk.Cursor == cursor)) return;
        foreach (NameRecord record in found.Where(r => !onDisk.IsHeld(r.Name))) onDisk.Put(record);
        onDisk.MoveCursor(cursor);
        _lease.Save(onDisk);
    }

    public void Dispose() => _lease.Dispose();
}
