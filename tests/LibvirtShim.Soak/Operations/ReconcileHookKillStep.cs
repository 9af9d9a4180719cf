using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// A hook call killed -9 while the listener reconciles: the listener of the host whose hook call is killed (issue 21) is
/// killed -9, then started again at the moment the <see cref="HookKillStep"/> begins, so its start, connect and
/// reconcile (about 0.1 s here) run beside the step's hook calls and their kill. Whatever the order they land in, the
/// checks that follow must find each owned link up exactly while its guest's vCPUs run, and nothing left. A capped
/// migration's links are not judged in flight here: an arriving link made while no listener held its lock is made up,
/// as documented.
/// </summary>
public sealed record ReconcileHookKillStep(HookKillStep Kill) : Step
{
    public override string Kind => "hook-kill-in-reconcile";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        model.Features.Listener ? HookKillStep.Candidates(model).Cast<HookKillStep>().Select(k => new ReconcileHookKillStep(k)) : [];

    public override Step Draw(SoakRandom random)
    {
        var kill = (HookKillStep)Kill.Draw(random);
        return this with { Kill = kill.Inner is MigrateStep m ? kill with { Inner = m with { LookInFlight = false } } : kill };
    }

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Site site = Kill.Call.Site;
        ShimListener listener = world.Listener(site);
        int pid = listener.Pid;
        listener.Kill();
        notes.Fault("listener kill -9", $"listener of {world[site].Label} (pid {pid}) killed -9");
        Task restart = Task.Run(listener.Restart);
        try
        {
            Kill.Run(world, notes);
        }
        finally
        {
            restart.GetAwaiter().GetResult();
        }
        DateTimeOffset reconciled = listener.StartedAt + listener.StartToReconciled;
        string when = world.Faults.Settled?.SignalledAt is { } at
            ? $"the kill signalled {(at - reconciled).TotalMilliseconds:+0;-0} ms from the end of its reconcile" +
              (at < reconciled ? (at >= listener.StartedAt ? " (during it)" : " (before its start)") : " (after it)")
            : "no kill signalled";
        notes.Add($"listener of {world[site].Label} started again (pid {listener.Pid}) beside the step, reconciled in " +
            $"{listener.StartToReconciled.TotalSeconds:0.00} s; {when}");
    }

    public override void Apply(SoakModel model) => Kill.Apply(model);

    public override string ToString() => $"{Kill}, while the listener on {Kill.Call.Site.Label()} restarts and reconciles";
}
