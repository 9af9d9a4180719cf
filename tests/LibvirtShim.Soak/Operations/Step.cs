using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Checks;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// One step of the run: chosen from the model (its preconditions), with its arguments drawn from the seed, then run
/// against the world, then applied to the model (its effect). Its text is the log line's, and depends only on the seed
/// and the model: two runs of one seed print the same steps.
/// </summary>
public abstract record Step
{
    /// <summary>What the summary counts it as: "start", "migrate", "hook-kill", ...</summary>
    public abstract string Kind { get; }

    /// <summary>The step with its random arguments drawn (a fault's delay, a migration's cap).</summary>
    public virtual Step Draw(SoakRandom random) => this;

    /// <summary>Does it to the world; throws <see cref="StepFailed"/> when the world does not follow.</summary>
    public abstract void Run(SoakWorld world, StepNotes notes);

    /// <summary>What it changes in the model when it succeeded.</summary>
    public abstract void Apply(SoakModel model);

    /// <summary>The command's result when it succeeded; a <see cref="StepFailed"/> naming <paramref name="what"/> when not.</summary>
    protected static CmdResult Must(CmdResult result, string what) => result.Ok ? result : throw new StepFailed($"{what}: {result.Describe()}");
}

/// <summary>What happened during a step beyond its success: faults that fired, retries, clean-ups; printed after its log line.</summary>
public sealed class StepNotes
{
    private readonly List<string> _lines = [];
    private readonly List<string> _faults = [];
    private readonly List<Violation> _violations = [];

    public IReadOnlyList<string> Lines => _lines;

    /// <summary>What the step saw while it ran that must not be, though its command succeeded (the model still follows it).</summary>
    public IReadOnlyList<Violation> Violations => _violations;

    public void Violate(string invariant, string text) => _violations.Add(new Violation(invariant, text));

    /// <summary>Takes in what a part of the step noted (its lines prefixed with <paramref name="part"/>), its faults and violations.</summary>
    public void Include(StepNotes other, string part)
    {
        _lines.AddRange(other._lines.Select(l => $"{part}: {l}"));
        _faults.AddRange(other._faults);
        _violations.AddRange(other._violations);
    }

    /// <summary>Faults that took effect ("hook prepare killed", "libvirtd kill -9"), for the run's counts.</summary>
    public IReadOnlyList<string> Faults => _faults;

    public void Add(string line) => _lines.Add(line);

    public void Fault(string kind, string line)
    {
        _faults.Add(kind);
        _lines.Add(line);
    }
}

/// <summary>A step whose main command may fail because a hook call it causes was killed; <see cref="HookKillStep"/> wraps it.</summary>
public abstract record AttemptStep : Step
{
    public abstract string Guest { get; init; }

    /// <summary>The hook calls the step causes, any of which a fault may kill.</summary>
    public abstract IReadOnlyList<HookCall> HookCalls(SoakModel model);

    /// <summary>The step's command (virsh start, migrate, ...) once, whatever its outcome.</summary>
    public abstract CmdResult Attempt(SoakWorld world, StepNotes notes);

    /// <summary>After a successful attempt: waits for what the step promises (a booted guest's /init, a guest gone).</summary>
    public virtual void Settle(SoakWorld world, StepNotes notes)
    {
    }

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Must(Attempt(world, notes), ToString());
        Settle(world, notes);
    }
}
