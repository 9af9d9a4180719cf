using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// Defines the guest on a host as an administrator would: its direct NICs handed to the hook by `libvirt-shim adopt`
/// (run where that host's hook runs, so the names are its own and held for the definition), its guarded NICs' guard=
/// and ips= written on their &lt;shim:link&gt; (when the build has guards), then `virsh define`. Applies to a guest not
/// defined on that host and not running there.
/// </summary>
public sealed record DefineStep(string Guest, Site Site) : Step
{
    public override string Kind => "define";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests from s in Sites.All where !g.IsDefinedOn(s) && g.ActiveOn != s select new DefineStep(g.Name, s);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        GuestSpec spec = world.Fleet.First(g => g.Name == Guest);
        string macs = string.Join(",", spec.Owned.Select(n => n.Mac));
        CmdResult adopt = Must(site.Shim(["adopt", "-", "--mac", macs], world.DirectXml(spec, Site)), $"libvirt-shim adopt on {site.Label}");
        Must(site.Virsh.Run("define", site.Virsh.WriteXml(Guest, world.WithGuards(spec, adopt.Stdout))), $"virsh define on {site.Label}");
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        g.DefinedOn.Add(Site);
        g.DefinedHot[Site].Clear();
    }

    public override string ToString() => $"define {Guest} on {Site.Label()} (adopt, virsh define)";
}

/// <summary>`virsh undefine` on a host where the guest is defined (a running guest there becomes transient).</summary>
public sealed record UndefineStep(string Guest, Site Site) : Step
{
    public override string Kind => "undefine";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests from s in g.DefinedOn select new UndefineStep(g.Name, s);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Must(world[Site].Virsh.Run("undefine", Guest), $"virsh undefine on {Site.Label()}");
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        g.DefinedOn.Remove(Site);
        g.DefinedHot[Site].Clear();
    }

    public override string ToString() => $"undefine {Guest} on {Site.Label()}";
}

/// <summary>
/// `virsh start` of a guest defined on a host and active nowhere (a save image it may have is dropped). A booted guest
/// is waited for until its /init is ready.
/// </summary>
public sealed record StartStep(string Guest, Site Site) : AttemptStep
{
    public override string Kind => "start";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.ActiveOn is null from s in g.DefinedOn select new StartStep(g.Name, s);

    public override IReadOnlyList<HookCall> HookCalls(SoakModel model) => [new(Site, "prepare", "begin", Stops: true)];

    public override CmdResult Attempt(SoakWorld world, StepNotes notes)
    {
        GuestSpec spec = world.Fleet.First(g => g.Name == Guest);
        if (world.Linux(spec) is { } linux)
        {
            File.Delete(linux.ConsolePath);
            TapNodes.MakeRoom();
        }
        return world[Site].Virsh.Start(Guest);
    }

    public override void Settle(SoakWorld world, StepNotes notes)
    {
        GuestSpec spec = world.Fleet.First(g => g.Name == Guest);
        File.Delete(world.SaveImage(spec));
        // Under TCG on the shared 2-core machine (load average 25 from other builds) a boot took over 120 s.
        world.Linux(spec)?.WaitReady(TimeSpan.FromSeconds(300));
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        g.ActiveOn = Site;
        g.Paused = false;
        g.LiveHot.Clear();
        g.LiveHot.UnionWith(g.DefinedHot[Site]);
        g.Saved = false;
        g.SavedHot.Clear();
    }

    public override string ToString() => $"start {Guest} on {Site.Label()}";
}

/// <summary>`virsh destroy` of an active guest (running or paused): its `release` follows.</summary>
public sealed record DestroyStep(string Guest, Site Site) : AttemptStep
{
    public override string Kind => "destroy";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.ActiveOn is not null select new DestroyStep(g.Name, g.ActiveOn!.Value);

    public override IReadOnlyList<HookCall> HookCalls(SoakModel model) => [new(Site, "release", "end", Stops: false)];

    public override CmdResult Attempt(SoakWorld world, StepNotes notes) => world[Site].Virsh.Destroy(Guest);

    public override void Apply(SoakModel model) => Stopped(model[Guest]);

    public override string ToString() => $"destroy {Guest} on {Site.Label()}";

    internal static void Stopped(GuestModel g)
    {
        g.ActiveOn = null;
        g.Paused = false;
        g.LiveHot.Clear();
    }
}

/// <summary>`virsh shutdown` of a running booted guest: ACPI's power button, its /init powers off; waited for (bounded).</summary>
public sealed record ShutdownStep(string Guest, Site Site) : Step
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public override string Kind => "shutdown";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.Spec.Booted && g.Running select new ShutdownStep(g.Name, g.ActiveOn!.Value);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Virsh virsh = world[Site].Virsh;
        Must(virsh.Run("shutdown", Guest), $"virsh shutdown on {Site.Label()}");
        var deadline = DateTime.UtcNow + Bound;
        while (virsh.IsActive(Guest))
        {
            if (DateTime.UtcNow > deadline) throw new StepFailed($"{Guest} still {virsh.DomState(Guest)} {Bound.TotalSeconds:0} s after virsh shutdown");
            Thread.Sleep(200);
        }
    }

    public override void Apply(SoakModel model) => DestroyStep.Stopped(model[Guest]);

    public override string ToString() => $"shutdown {Guest} on {Site.Label()}";
}

/// <summary>`virsh suspend`: the guest's vCPUs stop (with the listener, its links go down).</summary>
public sealed record SuspendStep(string Guest, Site Site) : Step
{
    public override string Kind => "suspend";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.Running select new SuspendStep(g.Name, g.ActiveOn!.Value);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Must(world[Site].Virsh.Run("suspend", Guest), $"virsh suspend on {Site.Label()}");
    }

    public override void Apply(SoakModel model) => model[Guest].Paused = true;

    public override string ToString() => $"suspend {Guest} on {Site.Label()}";
}

/// <summary>`virsh resume` of a paused guest.</summary>
public sealed record ResumeStep(string Guest, Site Site) : Step
{
    public override string Kind => "resume";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests where g.ActiveOn is not null && g.Paused select new ResumeStep(g.Name, g.ActiveOn!.Value);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Must(world[Site].Virsh.Run("resume", Guest), $"virsh resume on {Site.Label()}");
    }

    public override void Apply(SoakModel model) => model[Guest].Paused = false;

    public override string ToString() => $"resume {Guest} on {Site.Label()}";
}
