using LibvirtShim.Naming;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// The state, read under the lock. A missing or untrustworthy state file is rebuilt by seeding before anyone
/// uses it. Changes reach the disk only through <see cref="Commit"/>.
/// </summary>
internal sealed class ShimSession : IDisposable
{
    private readonly StateLease _lease;

    private ShimSession(ShimContext context, StateLease lease, NameState state)
    {
        Context = context;
        _lease = lease;
        State = state;
    }

    public ShimContext Context { get; }
    public NameState State { get; private set; }

    /// <summary>The seeding <see cref="Open"/> did because the state was missing or untrusted; null when it was read.</summary>
    public SeedReport? Seeded { get; private set; }

    public static ShimSession Open(ShimContext context)
    {
        StateLease lease = context.Store.Lock();
        try
        {
            StateLoad load = lease.Load(context.Scheme);
            var session = new ShimSession(context, lease, load.State ?? new NameState(context.Scheme));
            if (load.State is null)
            {
                context.Log.Warning("State {StateDir} not used ({Problem}); rebuilding it by seeding", context.Settings.StateDir, load.Problem);
                session.Seeded = session.Reseed(previous: null);
            }
            return session;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Rebuilds the state from the running guests, the definitions and the kernel, then commits it.</summary>
    public SeedReport Reseed(NameState? previous)
    {
        SeedReport report = Seeder.Seed(Context, previous);
        State = report.State;
        Commit();
        return report;
    }

    public void Commit() => _lease.Save(State);

    public void Dispose() => _lease.Dispose();
}
