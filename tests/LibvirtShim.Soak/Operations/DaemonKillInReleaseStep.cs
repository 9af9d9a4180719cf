using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// A libvirtd restart during a release: `virsh destroy` of an active guest, and the host's daemon killed -9 a moment drawn
/// from the seed after it began (before QEMU is gone, while the `release` hook call runs, or after), then started again.
/// The new daemon finds the guest running (the destroy is done again and must succeed) or gone (its reconnect stops it and
/// runs `release` itself). A `release` that never ran to its end, its daemon gone (libvirt runs it once, and a killed
/// daemon may have half-written its stdin), leaves links that `seed` deletes, as after a killed hook call: seeded until
/// none is left. Either way the guest ends stopped.
/// </summary>
public sealed record DaemonKillInReleaseStep(DestroyStep Destroy, int DelayMs = 0) : Step
{
    private const int MaxDelayMs = 400;

    public override string Kind => "daemon-kill-in-release";

    public static IEnumerable<Step> Candidates(SoakModel model) => DestroyStep.Candidates(model).Select(d => new DaemonKillInReleaseStep((DestroyStep)d));

    public override Step Draw(SoakRandom random) => this with { DelayMs = random.Between(0, MaxDelayMs) };

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Destroy.Site];
        Task<CmdResult> destroying = Task.Run(() => Destroy.Attempt(world, notes));
        Thread.Sleep(DelayMs);
        int pid = site.KillDaemonAndRestart();
        CmdResult first = destroying.GetAwaiter().GetResult();
        notes.Fault("libvirtd kill -9", $"libvirtd {pid} killed -9 {DelayMs} ms into the destroy, restarted (pid {site.DaemonPid()}); " +
            $"the destroy {(first.Ok ? "succeeded" : $"failed ({first.Stderr.Trim().Split('\n')[0]})")}");
        string state = site.Virsh.DomState(Destroy.Guest);
        if (state is "running" or "paused" or "in shutdown")
        {
            notes.Add($"{Destroy.Guest} still {state} on the new daemon: destroyed again");
            Must(Destroy.Attempt(world, notes), $"{Destroy} again, after the daemon's restart");
        }
        // The new daemon's reconnect may still be running the release it owes: its links are waited for (bounded) first.
        var deadline = DateTime.UtcNow + ReleaseBound;
        int left;
        while ((left = HookKillStep.LinksLeft(world, site, Destroy.Guest)) > 0 && DateTime.UtcNow < deadline) Thread.Sleep(100);
        if (left == 0) notes.Add("no link of its left");
        else HookKillStep.SeedUntilNoLinksLeft(world, site, Destroy.Guest, notes, "a release its daemon was killed under");
    }

    private static readonly TimeSpan ReleaseBound = TimeSpan.FromSeconds(10);

    public override void Apply(SoakModel model) => Destroy.Apply(model);

    public override string ToString() => $"{Destroy}, libvirtd there killed -9 {DelayMs} ms after it began";
}
