using LibvirtShim.Soak.Model;

namespace LibvirtShim.Soak.Operations;

/// <summary>An operation the run may choose: its weight, and the steps its precondition allows in a model.</summary>
public sealed record Operation(string Name, int Weight, Func<SoakModel, IEnumerable<Step>> Candidates);

/// <summary>
/// Chooses each step from the model and the seed alone: among the operations that have a step the model allows, one by
/// weight, then one of its steps, then the step's random arguments. Never a step that would fail as expected (migrate a
/// guest that does not run, detach from a guest that cannot let go).
/// </summary>
public sealed class Planner(SoakRandom random)
{
    public static IReadOnlyList<Operation> Operations { get; } =
    [
        new("define", 5, DefineStep.Candidates),
        new("undefine", 2, UndefineStep.Candidates),
        new("start", 10, StartStep.Candidates),
        new("destroy", 4, DestroyStep.Candidates),
        new("shutdown", 2, ShutdownStep.Candidates),
        new("suspend", 2, SuspendStep.Candidates),
        new("resume", 4, ResumeStep.Candidates),
        new("migrate", 10, MigrateStep.Candidates),
        new("save", 3, SaveStep.Candidates),
        new("restore", 5, RestoreStep.Candidates),
        new("attach", 4, AttachStep.Candidates),
        new("detach", 4, DetachStep.Candidates),
        new("seed", 1, SeedStep.Candidates),
        new("adopt", 1, ReadoptStep.Candidates),
        new("daemon-kill", 2, DaemonKillStep.Candidates),
        new("hook-kill", 6, HookKillStep.Candidates),
        new("uplink-flap", 2, UplinkFlapStep.Candidates),
        new("listener-kill", 2, ListenerKillStep.Candidates),
        new("hook-kill-in-reconcile", 2, ReconcileHookKillStep.Candidates),
        new("start-during-arrival", 2, StartDuringArrivalStep.Candidates),
        new("daemon-kill-in-release", 2, DaemonKillInReleaseStep.Candidates),
    ];

    public Step Next(SoakModel model)
    {
        var open = Operations.Select(o => (Operation: o, Steps: o.Candidates(model).ToList())).Where(o => o.Steps.Count > 0).ToList();
        int pick = random.Below(open.Sum(o => o.Operation.Weight));
        foreach (var (operation, steps) in open)
        {
            if (pick < operation.Weight) return random.Pick(steps).Draw(random);
            pick -= operation.Weight;
        }
        throw new InvalidOperationException("unreachable: the pick is below the total weight");
    }
}
