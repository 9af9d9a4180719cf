using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Checks;

/// <summary>A NIC of a running guest's live XML: owned (handed to the hook) or libvirt's direct NIC; its target dev.</summary>
public sealed record LiveNic(string Mac, string Dev, bool Owned);

/// <summary>One of the run's guests as a host's libvirt sees it.</summary>
/// <param name="State">virsh's state: "running", "paused", "shut off", ...</param>
/// <param name="Persistent">The host has its definition.</param>
/// <param name="Nics">The NICs of the live XML (active guests only).</param>
public sealed record DomainView(string Name, string State, bool Persistent, IReadOnlyList<LiveNic> Nics)
{
    public bool Active => State is not ("shut off" or "");
}

/// <summary>One host as libvirt and the hook's status see it.</summary>
public sealed record SiteView(Site Site, IReadOnlyDictionary<string, DomainView> Domains, ShimStatus? Status, string? StatusError);

/// <summary>The whole machine at one moment: both hosts, the kernel's links and the hooks' guard tables (when the build has guards).</summary>
public sealed record WorldView(IReadOnlyDictionary<Site, SiteView> Sites, IReadOnlyList<KernelLink> Links, IReadOnlyList<GuardTable> Guards)
{
    public static WorldView Observe(SoakWorld world) =>
        new(world.Sites.ToDictionary(s => s.Site, s => ObserveSite(s)), IpLinks.All(), world.Features.Guard ? GuardView.Read() : []);

    private static SiteView ObserveSite(SoakSite site)
    {
        var domains = new Dictionary<string, DomainView>(StringComparer.Ordinal);
        HashSet<string> persistent = Names(site.Virsh.Run("list", "--all", "--persistent", "--name"), site);
        CmdResult list = site.Virsh.Run("list", "--all").MustSucceed($"{site.Label}: virsh list --all");
        foreach (string line in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] f = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3 || !f[1].StartsWith(Fleet.Prefix, StringComparison.Ordinal)) continue;
            string state = f[2].Trim();
            var view = new DomainView(f[1], state, persistent.Contains(f[1]), []);
            domains[f[1]] = view.Active ? view with { Nics = LiveNics(site, f[1]) } : view;
        }
        try
        {
            return new SiteView(site.Site, domains, site.Status(), null);
        }
        catch (Exception e) when (e is CommandFailedException or System.Text.Json.JsonException)
        {
            return new SiteView(site.Site, domains, null, e.Message);
        }
    }

    public static IReadOnlyList<LiveNic> LiveNics(SoakSite site, string name)
    {
        CmdResult dump = site.Virsh.Run("dumpxml", name);
        if (!dump.Ok) return [];
        XDocument xml = XDocument.Parse(dump.Stdout);
        var owned = (xml.Root?.Element("metadata")?.Element(ShimAdmin.MetadataNamespace + "macvtap")?.Elements(ShimAdmin.MetadataNamespace + "link")
            ?? []).Select(l => ((string?)l.Attribute("mac") ?? "").ToLowerInvariant()).ToHashSet();
        return (xml.Root?.Element("devices")?.Elements("interface") ?? [])
            .Select(i => new LiveNic(MacOf(i), (string?)i.Element("target")?.Attribute("dev") ?? "", owned.Contains(MacOf(i))))
            .ToList();
    }

    private static string MacOf(XElement nic) => ((string?)nic.Element("mac")?.Attribute("address") ?? "").ToLowerInvariant();

    private static HashSet<string> Names(CmdResult r, SoakSite site) =>
        r.MustSucceed($"{site.Label}: virsh list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.Ordinal);
}
