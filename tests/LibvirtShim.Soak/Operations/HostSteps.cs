using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>`libvirt-shim seed` on a host: the state rebuilt from what runs; nothing may change for a guest.</summary>
public sealed record SeedStep(Site Site) : Step
{
    public override string Kind => "seed";

    public static IEnumerable<Step> Candidates(SoakModel model) => Sites.All.Select(s => new SeedStep(s));

    public override void Run(SoakWorld world, StepNotes notes)
    {
        Must(world[Site].Shim(["seed"]), $"libvirt-shim seed on {Site.Label()}");
    }

    public override void Apply(SoakModel model)
    {
    }

    public override string ToString() => $"seed on {Site.Label()}";
}

/// <summary>
/// `libvirt-shim adopt --mac` (the owned NICs' MACs, as the define step ran it) of a definition it already adopted: the XML
/// must come back the same (adopt is idempotent), with a line on stderr for each MAC, whose NIC is the hook's already.
/// </summary>
public sealed record ReadoptStep(string Guest, Site Site) : Step
{
    public override string Kind => "adopt";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from g in model.Guests from s in g.DefinedOn select new ReadoptStep(g.Name, s);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        string before = site.Virsh.Run("dumpxml", "--inactive", Guest).MustSucceed($"dumpxml --inactive {Guest}").Stdout;
        var macs = world.Fleet.First(g => g.Name == Guest).Owned.Select(n => n.Mac).ToList();
        CmdResult adopt = Must(site.Shim(["adopt", "-", "--mac", string.Join(",", macs)], before), $"libvirt-shim adopt on {site.Label}");
        if (!XNode.DeepEquals(XDocument.Parse(before), XDocument.Parse(adopt.Stdout)))
            throw new StepFailed($"adopt of {Guest}'s adopted definition on {site.Label} changed it:\n{before}\n--- became ---\n{adopt.Stdout}");
        if (macs.FirstOrDefault(m => !adopt.Stderr.Contains($"NIC {m} is libvirt-shim's already", StringComparison.Ordinal)) is { } unsaid)
            throw new StepFailed($"adopt --mac of {Guest}'s adopted definition on {site.Label} did not say NIC {unsaid} is the hook's already: {adopt.Stderr}");
    }

    public override void Apply(SoakModel model)
    {
    }

    public override string ToString() => $"adopt {Guest}'s definition on {Site.Label()} again";
}

/// <summary>
/// The host's libvirt daemon killed with SIGKILL (or, one time in four, stopped with SIGTERM), then started again by
/// its control script: the guests keep running, the new daemon reconnects (the `reconnect` hook calls).
/// </summary>
public sealed record DaemonKillStep(Site Site, bool Graceful = false) : Step
{
    public override string Kind => Graceful ? "daemon-restart" : "daemon-kill";

    public static IEnumerable<Step> Candidates(SoakModel model) => Sites.All.Select(s => new DaemonKillStep(s));

    public override Step Draw(SoakRandom random) => this with { Graceful = random.Chance(25) };

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        if (Graceful)
        {
            site.RestartDaemon();
            return;
        }
        int pid = site.KillDaemonAndRestart();
        notes.Fault("libvirtd kill -9", $"killed {pid}, restarted pid {site.DaemonPid()}");
    }

    public override void Apply(SoakModel model)
    {
    }

    public override string ToString() => Graceful ? $"restart libvirtd on {Site.Label()}" : $"kill -9 libvirtd on {Site.Label()}, restart it";
}
