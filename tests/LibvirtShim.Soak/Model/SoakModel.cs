namespace LibvirtShim.Soak.Model;

/// <summary>The two hosts of the run: this machine's libvirt 9.0 and libvirt 11.3 of scripts/libvirt-next.sh, each the other's peer.</summary>
public enum Site
{
    Main,
    Next,
}

public static class Sites
{
    public static readonly IReadOnlyList<Site> All = [Site.Main, Site.Next];

    public static Site Other(this Site site) => site == Site.Main ? Site.Next : Site.Main;

    public static string Label(this Site site) => site == Site.Main ? "main" : "next";
}

/// <summary>What the product offers that the run can exercise; found in the build under test, written in the log's first lines.</summary>
/// <param name="Listener">libvirt-shim watch (issue 21): links follow the vCPUs.</param>
/// <param name="Repair">libvirt-shim repair (issue 22): links lost with their uplink re-created.</param>
/// <param name="Guard">guard= on &lt;shim:link&gt; (issue 24).</param>
public sealed record Features(bool Listener, bool Repair, bool Guard)
{
    public static Features None { get; } = new(false, false, false);

    public override string ToString() =>
        $"listener {(Listener ? "yes" : "no")}, repair {(Repair ? "yes" : "no")}, guard {(Guard ? "yes" : "no")}";
}

/// <summary>
/// One NIC a guest is defined with: handed to the hook (adopted from a direct NIC) or left libvirt's own direct NIC. An owned
/// NIC may be guarded (issue 24): <see cref="Guard"/> 'mac' or 'ip', <see cref="Ips"/> the addresses of an 'ip' guard (a
/// booted guest's: its LAN addresses, set by the world).
/// </summary>
public sealed record SpecNic(string Mac, string Mode, int? Mtu, bool Owned, string? Guard = null, string? Ips = null);

/// <summary>
/// What never changes about a guest of the fleet. A booted guest (<see cref="Booted"/>) runs Linux from
/// scripts/guest-image.sh and answers the LAN; it has one NIC it may be hot-plugged (<see cref="HotMac"/>). The
/// others run no operating system.
/// </summary>
public sealed record GuestSpec(int Index, string Name, Guid Uuid, bool Booted, IReadOnlyList<SpecNic> Nics, string? HotMac)
{
    public IEnumerable<SpecNic> Owned => Nics.Where(n => n.Owned);

    public override string ToString() => Name;
}

/// <summary>What the run believes of one guest; changed only by the steps' effects (and by a resync after a violation).</summary>
public sealed class GuestModel(GuestSpec spec)
{
    public GuestSpec Spec { get; } = spec;
    public string Name => Spec.Name;

    /// <summary>Where the guest runs (or is paused), or null when it is active nowhere.</summary>
    public Site? ActiveOn { get; set; }
    public bool Paused { get; set; }
    public SortedSet<Site> DefinedOn { get; } = [];

    /// <summary>MACs of owned NICs plugged in by attach-interface: in the running guest, and in each host's definition.</summary>
    public SortedSet<string> LiveHot { get; } = new(StringComparer.Ordinal);
    public Dictionary<Site, SortedSet<string>> DefinedHot { get; } =
        Sites.All.ToDictionary(s => s, _ => new SortedSet<string>(StringComparer.Ordinal));

    /// <summary>A `virsh save` image waits to be restored; it holds the hot-plugged NICs of <see cref="SavedHot"/>.</summary>
    public bool Saved { get; set; }
    public SortedSet<string> SavedHot { get; } = new(StringComparer.Ordinal);

    /// <summary>How many MACs attach-interface has handed this guest (its next one is derived from it).</summary>
    public int HotCount { get; set; }

    public bool Running => ActiveOn is not null && !Paused;

    public bool IsDefinedOn(Site site) => DefinedOn.Contains(site);

    /// <summary>Every MAC the guest's live XML should hand to the hook.</summary>
    public IEnumerable<string> LiveOwnedMacs => Spec.Owned.Select(n => n.Mac).Concat(LiveHot);

    public string Describe() =>
        $"{Name}: {(ActiveOn is { } s ? $"{(Paused ? "paused" : "running")} on {s.Label()}" : "inactive")}" +
        $", defined on [{string.Join(",", DefinedOn.Select(d => d.Label()))}]" +
        (LiveHot.Count > 0 ? $", hot-plugged {string.Join(",", LiveHot)}" : "") +
        string.Concat(DefinedHot.Where(d => d.Value.Count > 0).Select(d => $", {d.Key.Label()} definition hot {string.Join(",", d.Value)}")) +
        (Saved ? ", saved" : "");
}

/// <summary>The world as the run believes it is: the fleet's guests, and which faults are in place.</summary>
public sealed class SoakModel
{
    public SoakModel(IReadOnlyList<GuestSpec> fleet, Features features)
    {
        Guests = fleet.Select(g => new GuestModel(g)).ToList();
        Features = features;
    }

    public IReadOnlyList<GuestModel> Guests { get; }
    public Features Features { get; }

    public GuestModel this[string name] => Guests.First(g => g.Name == name);

    public IEnumerable<GuestModel> ActiveOn(Site site) => Guests.Where(g => g.ActiveOn == site);
}
