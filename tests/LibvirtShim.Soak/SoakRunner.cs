using System.Diagnostics;
using System.Text;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Checks;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.Operations;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak;

/// <summary>SOAK_SEED (default: drawn from the clock, printed) and SOAK_STEPS (default 200, what CI runs).</summary>
public sealed record SoakSettings(ulong Seed, int Steps)
{
    public const int DefaultSteps = 200;

    public static SoakSettings FromEnvironment()
    {
        string? seed = Environment.GetEnvironmentVariable("SOAK_SEED");
        string? steps = Environment.GetEnvironmentVariable("SOAK_STEPS");
        return new SoakSettings(
            string.IsNullOrEmpty(seed) ? (ulong)DateTime.UtcNow.Ticks % 1_000_000_000 : ulong.Parse(seed),
            string.IsNullOrEmpty(steps) ? DefaultSteps : int.Parse(steps));
    }

    public string Replay => $"SOAK_SEED={Seed} SOAK_STEPS={Steps}";
}

/// <summary>A violation and the step after which it was seen.</summary>
public sealed record StepViolation(int Step, Violation Violation);

/// <summary>What a run did: its steps by kind (count, time), the faults that took effect, every violation.</summary>
public sealed class SoakResult(SoakSettings settings)
{
    public SoakSettings Settings { get; } = settings;
    public List<StepViolation> Violations { get; } = [];
    public SortedDictionary<string, (int Count, TimeSpan Total, TimeSpan Max)> Steps { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, int> Faults { get; } = new(StringComparer.Ordinal);
    public TimeSpan Checks { get; set; }
    public TimeSpan Duration { get; set; }
    public int Done { get; set; }

    public void Count(string kind, TimeSpan took)
    {
        var (count, total, max) = Steps.GetValueOrDefault(kind);
        Steps[kind] = (count + 1, total + took, took > max ? took : max);
    }

    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine($"seed {Settings.Seed}: {Done} steps in {Duration.TotalMinutes:0.0} min ({Duration.TotalSeconds / Math.Max(1, Done):0.0} s a step, " +
            $"checks {Checks.TotalSeconds / Math.Max(1, Done):0.00} s of it), {Violations.Count} violation(s)");
        foreach (var (kind, (count, total, max)) in Steps)
            text.AppendLine($"  {kind,-16} {count,6}  mean {total.TotalSeconds / count,6:0.00} s  max {max.TotalSeconds,6:0.00} s");
        foreach (var (kind, count) in Faults) text.AppendLine($"  fault: {kind,-24} {count,6}");
        foreach (StepViolation v in Violations.Take(50)) text.AppendLine($"  violation at step {v.Step}: {v.Violation}");
        if (Violations.Count > 0)
            text.AppendLine($"  replay to the first violation: {(Settings with { Steps = Violations[0].Step }).Replay}; the whole run: {Settings.Replay}");
        return text.ToString();
    }
}

/// <summary>
/// The loop: choose a step from the model and the seed, run it, apply its effect, check the invariants; a step that
/// fails or a check that does not hold is a violation, logged with the step number and the seed, and the run goes on
/// (the model resynchronised from the world) so that one run counts all of them.
/// </summary>
public sealed class SoakRunner(SoakWorld world, SoakModel model, SoakSettings settings, SoakLog log)
{
    private readonly Planner _planner = new(new SoakRandom(settings.Seed));
    private readonly Invariants _invariants = new(world);

    public SoakResult Run()
    {
        var result = new SoakResult(settings);
        log.Line($"seed {settings.Seed}, {settings.Steps} steps (replay: {settings.Replay}); features: {model.Features}");
        log.Line($"main: {world.Fixture.Versions}; next: {DaemonUnderTest.Versions(world.Next.Virsh)}");
        for (int step = 1; step <= settings.Steps && !Xunit.TestContext.Current.CancellationToken.IsCancellationRequested; step++)
        {
            RunStep(step, result);
            result.Done = step;
        }
        result.Duration = log.Elapsed;
        foreach (string line in result.Summary().TrimEnd().Split('\n')) log.Line(line);
        return result;
    }

    private void RunStep(int number, SoakResult result)
    {
        Step step = _planner.Next(model);
        var notes = new StepNotes();
        var watch = Stopwatch.StartNew();
        string outcome = "ok";
        var violations = new List<Violation>();
        try
        {
            step.Run(world, notes);
            step.Apply(model);
        }
        catch (Exception e)
        {
            outcome = "FAILED";
            violations.Add(new Violation("step", $"{step}: {e.Message}"));
        }
        violations.AddRange(notes.Violations);
        TimeSpan took = watch.Elapsed;
        var checkWatch = Stopwatch.StartNew();
        (IReadOnlyList<Violation> found, WorldView view) = _invariants.Check(model);
        violations.AddRange(found);
        result.Checks += checkWatch.Elapsed;
        result.Count(step.Kind, took);
        foreach (string fault in notes.Faults) result.Faults[fault] = result.Faults.GetValueOrDefault(fault) + 1;
        string extra = notes.Lines.Count == 0 ? "" : $" ({string.Join("; ", notes.Lines)})";
        log.Line($"step {number}/{settings.Steps} {step}: {outcome} {took.TotalSeconds:0.00} s{extra}; checks {checkWatch.Elapsed.TotalSeconds:0.00} s" +
            (violations.Count > 0 ? $", {violations.Count} VIOLATION(S)" : ""));
        foreach (Violation v in violations)
        {
            result.Violations.Add(new StepViolation(number, v));
            log.Line($"  VIOLATION at step {number} (seed {settings.Seed}): {v}");
        }
        if (violations.Count > 0) ModelSync.FromWorld(model, view, world);
    }
}
