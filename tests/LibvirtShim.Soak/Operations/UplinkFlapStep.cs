using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// A host's uplink deleted and re-created (an ifdown/ifup, a driver reload): every macvtap on it goes with it. Then
/// `libvirt-shim repair` re-creates the hook's links and plugs them into the guests again (issue 22), and the checks
/// that follow must find every guest on its links and the booted ones reachable. Applies where every guest there is a
/// booted one that runs: repair plugs each NIC out and in again, and a guest without an OS never lets a NIC go (repair
/// then says so in one line and leaves it, as detach does; seed 431659983, step 122); a paused guest lets none go either.
/// </summary>
public sealed record UplinkFlapStep(Site Site) : Step
{
    public override string Kind => "uplink-flap";

    public static IEnumerable<Step> Candidates(SoakModel model) =>
        from s in Sites.All
        where model.Features.Repair && model.ActiveOn(s).All(g => !g.Paused && g.Spec.Booted && g.Spec.Nics.All(n => n.Owned))
        select new UplinkFlapStep(s);

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        int lost = IpLinks.All().Count(l => l.Lower == site.Uplink && l.IsMacvtap);
        Veth.Delete(site.Uplink);
        Veth.Ensure(site.Uplink);
        Lan.AddPort(site.UplinkPort);
        notes.Fault("uplink deleted", $"{site.Uplink} deleted with {lost} macvtap(s), re-created");
        Must(site.Shim(["repair"]), $"libvirt-shim repair on {site.Label}");
    }

    public override void Apply(SoakModel model)
    {
    }

    public override string ToString() => $"delete and re-create {Site.Label()}'s uplink, then repair";
}
