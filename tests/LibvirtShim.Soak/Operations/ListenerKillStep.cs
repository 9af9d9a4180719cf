using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// A host's listener (`libvirt-shim watch`, issue 21) killed with SIGKILL and started again. Half the time a guest there is
/// suspended (or resumed) while it is down, so the link states the restarted listener finds are wrong until it reconciles:
/// the checks that follow must find each owned link up exactly while its guest's vCPUs run. Only when the build has the
/// listener (the world then runs one per host).
/// </summary>
public sealed record ListenerKillStep(Site Site, string? Guest = null, bool Pause = false) : Step
{
    public override string Kind => "listener-kill";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from s in Sites.All
        where model.Features.Listener
        from step in new[] { new ListenerKillStep(s) }
            .Concat(model.ActiveOn(s).Select(g => new ListenerKillStep(s, g.Name, Pause: !g.Paused)))
        select step;

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        var listener = world.Listener(Site);
        int pid = listener.Pid;
        listener.Kill();
        notes.Fault("listener kill -9", $"listener of {site.Label} (pid {pid}) killed -9");
        if (Guest is not null)
            Must(site.Virsh.Run(Pause ? "suspend" : "resume", Guest), $"virsh {(Pause ? "suspend" : "resume")} {Guest} on {Site.Label()}");
        listener.Restart();
        notes.Add($"listener of {site.Label} started again (pid {listener.Pid}), reconciled in {listener.StartToReconciled.TotalSeconds:0.00} s");
    }

    public override void Apply(SoakModel model)
    {
        if (Guest is not null) model[Guest].Paused = Pause;
    }

    public override string ToString() =>
        Guest is null ? $"kill -9 the listener on {Site.Label()}, start it again"
            : $"kill -9 the listener on {Site.Label()}, {(Pause ? "suspend" : "resume")} {Guest} meanwhile, start it again";
}
