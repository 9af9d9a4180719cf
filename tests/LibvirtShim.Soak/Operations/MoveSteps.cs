using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// `virsh migrate --live` of a running guest to the other host, sometimes capped at 1 MiB/s for a few seconds (then
/// uncapped with migrate-setspeed), sometimes with --undefinesource. Both hosts share the kernel: the destination's
/// `migrate begin` renames the NICs onto its own names and uplink, the source's `release` deletes its links.
/// </summary>
public sealed record MigrateStep(string Guest, Site From, bool SourceDefined, bool Capped = false, int CapSeconds = 0,
    bool UndefineSource = false) : AttemptStep
{
    /// <summary>A capped migration's links are looked at while it runs (<see cref="MigrationInFlight"/>): not while a listener restarts.</summary>
    public bool LookInFlight { get; init; } = true;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(180);

    public override string Kind => "migrate";
    public Site To => From.Other();

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.Running let s = g.ActiveOn!.Value select new MigrateStep(g.Name, s, g.IsDefinedOn(s));

    public override Step Draw(SoakRandom random)
    {
        bool capped = random.Chance(30);
        int seconds = random.Between(1, 4);
        bool undefine = random.Chance(15);
        return this with { Capped = capped, CapSeconds = capped ? seconds : 0, UndefineSource = SourceDefined && undefine };
    }

    public override IReadOnlyList<HookCall> HookCalls(SoakModel model) =>
        [new(To, "migrate", "begin", Stops: true), new(To, "prepare", "begin", Stops: true), new(From, "release", "end", Stops: false)];

    public override CmdResult Attempt(SoakWorld world, StepNotes notes)
    {
        Virsh source = world[From].Virsh;
        if (world.Linux(world.Fleet.First(g => g.Name == Guest)) is not null) TapNodes.MakeRoom();
        string[] args = ["migrate", "--live", Guest, world[To].Virsh.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1",
            .. UndefineSource ? new[] { "--undefinesource" } : [], .. Capped ? new[] { "--bandwidth", "1" } : []];
        if (!Capped) return source.Run(Bound, args);
        var watch = Stopwatch.StartNew();
        TimeSpan cap = TimeSpan.FromSeconds(CapSeconds);
        Task<CmdResult> migration = source.RunAsync(Bound, args);
        InFlightLook? look = LookInFlight && world.Features.Listener ? MigrationInFlight.Look(world, Guest, From, To, migration, cap) : null;
        if (look is not null) notes.Add(look.Problem is null ? look.Text : $"{look.Text}: {look.Problem}");
        if (look?.Problem is { } problem) notes.Violate("in-flight", $"{this}: its links in flight: {problem}");
        TimeSpan left = cap - watch.Elapsed;
        if (!migration.Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero))
        {
            CmdResult uncap = source.Run("migrate-setspeed", Guest, "--bandwidth", "100000");
            notes.Add(migration.IsCompleted ? "finished within its cap" : uncap.Ok ? $"uncapped after {CapSeconds} s" : "uncap refused (done?)");
        }
        return migration.GetAwaiter().GetResult();
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        g.ActiveOn = To;
        g.Paused = false;
        if (!UndefineSource) return;
        g.DefinedOn.Remove(From);
        g.DefinedHot[From].Clear();
    }

    public override string ToString() =>
        $"migrate {Guest} {From.Label()} -> {To.Label()}{(Capped ? $" capped 1 MiB/s for {CapSeconds} s" : "")}" +
        $"{(UndefineSource ? " --undefinesource" : "")}";
}

/// <summary>`virsh save` of a running guest to a file in the work directory (seen by both hosts): the guest stops, its `release` runs.</summary>
public sealed record SaveStep(string Guest, Site Site) : AttemptStep
{
    public override string Kind => "save";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.Running select new SaveStep(g.Name, g.ActiveOn!.Value);

    public override IReadOnlyList<HookCall> HookCalls(SoakModel model) => [new(Site, "release", "end", Stops: false)];

    public override CmdResult Attempt(SoakWorld world, StepNotes notes)
    {
        string image = world.SaveImage(world.Fleet.First(g => g.Name == Guest));
        File.Delete(image);
        return world[Site].Virsh.Run(TimeSpan.FromSeconds(180), "save", Guest, image);
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        g.SavedHot.Clear();
        g.SavedHot.UnionWith(g.LiveHot);
        DestroyStep.Stopped(g);
        g.Saved = true;
    }

    public override string ToString() => $"save {Guest} on {Site.Label()}";
}

/// <summary>
/// `virsh restore` of a saved guest on either host (the image may come from the other one: `restore begin` renames its
/// NICs and maps its uplinks); the image is removed once restored.
/// </summary>
public sealed record RestoreStep(string Guest, Site Site) : AttemptStep
{
    public override string Kind => "restore";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.Saved && g.ActiveOn is null from s in Sites.All select new RestoreStep(g.Name, s);

    public override IReadOnlyList<HookCall> HookCalls(SoakModel model) =>
        [new(Site, "restore", "begin", Stops: true), new(Site, "prepare", "begin", Stops: true)];

    public override CmdResult Attempt(SoakWorld world, StepNotes notes)
    {
        GuestSpec spec = world.Fleet.First(g => g.Name == Guest);
        if (world.Linux(spec) is not null) TapNodes.MakeRoom();
        return world[Site].Virsh.Run(TimeSpan.FromSeconds(180), "restore", world.SaveImage(spec));
    }

    public override void Settle(SoakWorld world, StepNotes notes) => File.Delete(world.SaveImage(world.Fleet.First(g => g.Name == Guest)));

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        g.ActiveOn = Site;
        g.Paused = false;
        g.LiveHot.Clear();
        g.LiveHot.UnionWith(g.SavedHot);
        g.SavedHot.Clear();
        g.Saved = false;
    }

    public override string ToString() => $"restore {Guest} on {Site.Label()}";
}
