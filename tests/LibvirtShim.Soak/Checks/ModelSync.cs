using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Checks;

/// <summary>
/// After a violation the model is set to what the world shows, so the run goes on from there (its steps then differ
/// from a replay of the same seed from that step on: a replay reproduces up to the first violation).
/// </summary>
public static class ModelSync
{
    public static void FromWorld(SoakModel model, WorldView view, SoakWorld world)
    {
        foreach (GuestModel g in model.Guests)
        {
            var owned = g.Spec.Owned.Select(n => n.Mac).ToHashSet();
            (Site Site, DomainView Domain)? active = view.Sites.Values.Select(s => (s.Site, Domain: s.Domains.GetValueOrDefault(g.Name)))
                .Where(x => x.Domain is { Active: true }).Select(x => ((Site, DomainView)?)(x.Site, x.Domain!)).FirstOrDefault();
            g.ActiveOn = active?.Site;
            g.Paused = active?.Domain.State == "paused";
            g.LiveHot.Clear();
            if (active is { } a) g.LiveHot.UnionWith(a.Domain.Nics.Where(n => n.Owned && !owned.Contains(n.Mac)).Select(n => n.Mac));
            g.DefinedOn.Clear();
            foreach (SiteView site in view.Sites.Values)
            {
                g.DefinedHot[site.Site].Clear();
                if (site.Domains.GetValueOrDefault(g.Name) is not { Persistent: true }) continue;
                g.DefinedOn.Add(site.Site);
                g.DefinedHot[site.Site].UnionWith(DefinedOwnedMacs(world[site.Site], g.Name).Where(m => !owned.Contains(m)));
            }
            g.Saved = g.ActiveOn is null && File.Exists(world.SaveImage(g.Spec));
            if (!g.Saved) g.SavedHot.Clear();
        }
    }

    private static IEnumerable<string> DefinedOwnedMacs(SoakSite site, string name)
    {
        CmdResult dump = site.Virsh.Run("dumpxml", "--inactive", name);
        if (!dump.Ok) return [];
        return XDocument.Parse(dump.Stdout).Descendants(ShimAdmin.MetadataNamespace + "link")
            .Select(l => ((string?)l.Attribute("mac") ?? "").ToLowerInvariant()).ToList();
    }
}
