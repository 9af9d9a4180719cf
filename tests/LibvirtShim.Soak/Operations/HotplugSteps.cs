using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>
/// `libvirt-shim attach-interface` (where the host's hook runs) of an owned NIC on the host's uplink: into the running
/// guest (--live, with --config when the host has its definition), or into a definition only (--config). A booted
/// guest's NIC is the one its /init configures when it appears; a guest without an OS gets a new MAC each time.
/// </summary>
public sealed record AttachStep(string Guest, Site Site, string Mac, bool Live, bool Config, int HotCount) : Step
{
    public override string Kind => "attach";

    public static IEnumerable<Step> Candidates(SoakModel model)
    {
        foreach (GuestModel g in model.Guests)
        {
            (string? mac, int count) = NextMac(g);
            if (mac is null) continue;
            if (g.Running && !g.LiveHot.Contains(mac))
                yield return new AttachStep(g.Name, g.ActiveOn!.Value, mac, true, g.IsDefinedOn(g.ActiveOn!.Value) &&
                    !g.DefinedHot[g.ActiveOn!.Value].Contains(mac), count);
            foreach (Site s in g.DefinedOn.Where(s => g.ActiveOn != s && !g.DefinedHot[s].Contains(mac)))
                yield return new AttachStep(g.Name, s, mac, false, true, count);
        }
    }

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        if (Live && world.Linux(world.Fleet.First(g => g.Name == Guest)) is not null) TapNodes.MakeRoom();
        string[] args = ["attach-interface", Guest, "--source", site.Uplink, "--mode", "bridge", "--mac", Mac,
            .. Live ? new[] { "--live" } : [], .. Config ? new[] { "--config" } : []];
        notes.Add($"as {ShimAdmin.AttachedName(Must(site.Shim(args), $"attach-interface on {site.Label}"))}");
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        if (Live) g.LiveHot.Add(Mac);
        if (Config) g.DefinedHot[Site].Add(Mac);
        g.HotCount = HotCount;
    }

    public override string ToString() => $"attach {Mac} to {Guest} on {Site.Label()} ({Flags(Live, Config)})";

    internal static string Flags(bool live, bool config) => string.Join(" ", new[] { live ? "--live" : "", config ? "--config" : "" }.Where(f => f.Length > 0));

    /// <summary>The MAC the guest's next hot-plugged NIC gets and the count after it (a booted guest has always the same one); null: none free.</summary>
    private static (string? Mac, int Count) NextMac(GuestModel g)
    {
        bool Used(string mac) => g.LiveHot.Contains(mac) || g.SavedHot.Contains(mac) || g.DefinedHot.Values.Any(d => d.Contains(mac));
        if (g.Spec.HotMac is { } fixedMac) return (fixedMac, g.HotCount);
        for (int count = g.HotCount; count < g.HotCount + 255; count++)
        {
            string mac = Fleet.HotMac(g.Spec, count);
            if (!Used(mac)) return (mac, count + 1);
        }
        return (null, g.HotCount);
    }
}

/// <summary>
/// `libvirt-shim detach-interface` of a hot-plugged NIC: from a running booted guest (--live, whose /init lets it go;
/// with --config when the definition has it too), or from a definition only (--config). A guest without an OS never
/// lets a NIC go, so its live NICs stay until it stops.
/// </summary>
public sealed record DetachStep(string Guest, Site Site, string Mac, bool Live, bool Config) : Step
{
    public override string Kind => "detach";

    public static IEnumerable<Step> Candidates(SoakModel model)
    {
        foreach (GuestModel g in model.Guests)
        {
            if (g.Spec.Booted && g.Running)
            {
                Site s = g.ActiveOn!.Value;
                foreach (string mac in g.LiveHot) yield return new DetachStep(g.Name, s, mac, true, g.DefinedHot[s].Contains(mac));
            }
            foreach (Site s in g.DefinedOn)
            {
                foreach (string mac in g.DefinedHot[s].Where(m => !(g.Spec.Booted && g.Running && g.ActiveOn == s && g.LiveHot.Contains(m))))
                    yield return new DetachStep(g.Name, s, mac, false, true);
            }
        }
    }

    public override void Run(SoakWorld world, StepNotes notes)
    {
        SoakSite site = world[Site];
        string[] args = ["detach-interface", Guest, "--mac", Mac, .. Live ? new[] { "--live" } : [], .. Config ? new[] { "--config" } : []];
        Must(site.Shim(args), $"detach-interface on {site.Label}");
    }

    public override void Apply(SoakModel model)
    {
        GuestModel g = model[Guest];
        if (Live) g.LiveHot.Remove(Mac);
        if (Config) g.DefinedHot[Site].Remove(Mac);
    }

    public override string ToString() => $"detach {Mac} from {Guest} on {Site.Label()} ({AttachStep.Flags(Live, Config)})";
}
