using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// A start while another guest migrates in: a capped live migration to a host and, a moment drawn from the seed after it
/// began, `virsh start` of a guest defined there, so the arriving guest's `migrate begin` and `prepare` and the starting
/// guest's `prepare` run as concurrent hook processes on one host, taking names from one bitmap under its lock. Both must
/// succeed, and the checks that follow find each guest's links where and as they must be. Guests without an OS only (a
/// booted guest's step sets tap nodes aside for itself, which would race the other step's fresh node).
/// </summary>
public sealed record StartDuringArrivalStep(MigrateStep Migration, StartStep Start, int DelayMs = 0) : Step
{
    private const int MaxDelayMs = 600;

    public override string Kind => "start-during-arrival";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from m in MigrateStep.Candidates(model).Cast<MigrateStep>()
        where !model[m.Guest].Spec.Booted
        from s in StartStep.Candidates(model).Cast<StartStep>()
        where s.Site == m.To && s.Guest != m.Guest && !model[s.Guest].Spec.Booted
        select new StartDuringArrivalStep(m, s);

    public override Step Draw(SoakRandom random)
    {
        var migration = (MigrateStep)Migration.Draw(random);
        return this with { Migration = migration with { Capped = true, CapSeconds = random.Between(1, 3) }, DelayMs = random.Between(0, MaxDelayMs) };
    }

    public override void Run(SoakWorld world, StepNotes notes)
    {
        var migrationNotes = new StepNotes();
        Task migrating = Task.Run(() => Migration.Run(world, migrationNotes));
        Thread.Sleep(DelayMs);
        Exception? startFailed = null;
        try
        {
            Start.Run(world, notes);
        }
        catch (Exception e)
        {
            startFailed = e;
        }
        Exception? migrationFailed = null;
        try
        {
            migrating.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            migrationFailed = e;
        }
        notes.Include(migrationNotes, "migration");
        notes.Add($"{Start.Guest} started {DelayMs} ms after the migration of {Migration.Guest} to {Migration.To.Label()} began");
        string[] failures = [.. new[] { migrationFailed, startFailed }.OfType<Exception>().Select(e => e.Message)];
        if (failures.Length > 0) throw new StepFailed(string.Join("; and ", failures));
    }

    public override void Apply(SoakModel model)
    {
        Migration.Apply(model);
        Start.Apply(model);
    }

    public override string ToString() => $"{Migration}, and {Migration.To.Label()} starts {Start.Guest} {DelayMs} ms after it began";
}
