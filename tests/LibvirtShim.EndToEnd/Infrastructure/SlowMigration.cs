using System.Diagnostics;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>How a slow migration ends its capped phase: uncapped pre-copy, or a switch to post-copy.</summary>
public enum Switchover { Uncapped, PostCopy }

/// <summary>
/// A live migration slow enough to watch: <c>virsh migrate --live --bandwidth 2</c> (MiB/s) in the background, then after
/// <see cref="CappedFor"/> either <c>virsh migrate-setspeed</c> lifts the cap (pre-copy converges and switches over) or
/// <c>virsh migrate-postcopy</c> switches to post-copy (the guest runs on the destination while its memory follows).
/// </summary>
public sealed class SlowMigration(Virsh from, string guest, Virsh to, Switchover switchover, params string[] extra)
{
    public static readonly TimeSpan CappedFor = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(240);

    public double Seconds { get; private set; }

    /// <summary>Runs it to its end; <paramref name="whileCapped"/> runs during the capped phase (say, killing a listener).</summary>
    public CmdResult Run(Action? whileCapped = null)
    {
        string[] command = ["virsh", "-c", from.Uri, "migrate", "--live", guest, to.Uri, "--migrateuri", "tcp://127.0.0.1",
            "--listen-address", "127.0.0.1", "--bandwidth", "2", .. switchover == Switchover.PostCopy ? new[] { "--postcopy" } : [], .. extra];
        var watch = Stopwatch.StartNew();
        using var migrate = new BackgroundProcess(command);
        whileCapped?.Invoke();
        // The capped phase is the experiment itself (how long the destination holds a paused guest), not a wait for a state.
        Poll.Until(() => watch.Elapsed >= CappedFor || migrate.HasExited, $"{CappedFor.TotalSeconds:0} s of capped migration", CappedFor * 3);
        if (!migrate.HasExited)
        {
            CmdResult lift = switchover == Switchover.PostCopy
                ? from.Run("migrate-postcopy", guest)
                : from.Run("migrate-setspeed", guest, "--bandwidth", "100000");
            lift.MustSucceed(switchover == Switchover.PostCopy ? "virsh migrate-postcopy" : "virsh migrate-setspeed");
        }
        Poll.Until(() => migrate.HasExited, done => done, $"virsh migrate {guest} to end", Bound, _ => migrate.Describe());
        Seconds = watch.Elapsed.TotalSeconds;
        migrate.Stop();
        return new CmdResult(migrate.CommandLine, migrate.ExitCode, string.Join('\n', migrate.Stdout), string.Join('\n', migrate.Stderr),
            watch.Elapsed, TimedOut: false);
    }
}
