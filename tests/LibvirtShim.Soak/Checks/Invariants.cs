using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Checks;

/// <summary>An invariant that did not hold after a step: which one, and what was seen.</summary>
public sealed record Violation(string Invariant, string Text)
{
    public override string ToString() => $"[{Invariant}] {Text}";
}

/// <summary>
/// What must hold after every step, on both hosts, read from libvirt (virsh), the hook's status and the kernel (ip link):
/// the world is as the model says; every running guest's owned NIC is a macvtap on the host's uplink with its MAC and
/// the hook's marks; each such link is up exactly when the guest's vCPUs run (before the listener of issue 21: up while
/// the guest is active); no link of the hook's without a domain that runs; no name held twice; `status` exits 0 and
/// its records and the kernel agree and it holds no name for a gone definition; the booted guests answer pings from the LAN through their own NICs, on the switch
/// port of the host they run on; every announce the listeners tried went out. The host is quiet after a step, but libvirt finishes some things a little later (a
/// migration's source release): the checks are repeated until they hold or <see cref="Bound"/> has passed.
/// </summary>
public sealed class Invariants(SoakWorld world)
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private Dictionary<Site, (long Pid, long Failures)> _announceFailures = [];
    private const string AliasPrefix = "libvirt-shim:";

    /// <summary>The violations of the last look (none when all held), and that look.</summary>
    public (IReadOnlyList<Violation> Violations, WorldView View) Check(SoakModel model)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            WorldView view = WorldView.Observe(world);
            Dictionary<Site, (long Pid, long Failures)> announceFailures = AnnounceFailures(model);
            var violations = All(model, view).Concat(AnnouncesSent(announceFailures)).ToList();
            if (violations.Count == 0 || watch.Elapsed >= Bound)
            {
                _announceFailures = announceFailures;
                return (violations, view);
            }
            Thread.Sleep(500);
        }
    }

    private IEnumerable<Violation> All(SoakModel model, WorldView view) =>
        AsModelled(model, view).Concat(OwnedLinks(model, view)).Concat(NoOrphanLinks(view)).Concat(NamesOnce(view))
            .Concat(StatusAgrees(model, view)).Concat(Guarded(model, view)).Concat(NoOrphanGuards(view)).Concat(Reachable(model, view));

    /// <summary>Each guest is active, paused and defined where the model says, and no other guest of the run exists.</summary>
    private static IEnumerable<Violation> AsModelled(SoakModel model, WorldView view)
    {
        foreach (SiteView site in view.Sites.Values)
        {
            foreach (DomainView d in site.Domains.Values.Where(d => model.Guests.All(g => g.Name != d.Name)))
                yield return new("model", $"{site.Site.Label()} has a domain {d.Name} that is not the run's");
            foreach (GuestModel g in model.Guests)
            {
                DomainView? d = site.Domains.GetValueOrDefault(g.Name);
                string seen = d is null ? "no such domain" : $"{d.State}{(d.Persistent ? ", defined" : ", transient")}";
                bool active = d?.Active ?? false;
                if (active != (g.ActiveOn == site.Site) || (active && (d!.State == "paused") != g.Paused) ||
                    (d?.Persistent ?? false) != g.IsDefinedOn(site.Site))
                    yield return new("model", $"{g.Name} on {site.Site.Label()}: libvirt says {seen}; the model: {g.Describe()}");
            }
        }
    }

    /// <summary>Each active guest's owned NICs are the modelled ones, each a macvtap on the host's uplink with its MAC and marks, up as it must be.</summary>
    private IEnumerable<Violation> OwnedLinks(SoakModel model, WorldView view)
    {
        var links = view.Links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        foreach (GuestModel g in model.Guests.Where(g => g.ActiveOn is not null))
        {
            SoakSite site = world[g.ActiveOn!.Value];
            if (view.Sites[site.Site].Domains.GetValueOrDefault(g.Name) is not { Active: true } d) continue;
            var owned = d.Nics.Where(n => n.Owned).Select(n => n.Mac).Order().ToList();
            var expected = g.LiveOwnedMacs.Order().ToList();
            if (!owned.SequenceEqual(expected))
                yield return new("nic-link", $"{g.Name} on {site.Label}: its live XML hands [{string.Join(",", owned)}] to the hook, " +
                    $"the model [{string.Join(",", expected)}]");
            foreach (LiveNic nic in d.Nics)
            {
                if (LinkProblem(nic, links.GetValueOrDefault(nic.Dev), site, g.Spec.Uuid) is { } problem)
                    yield return new("nic-link", $"{g.Name} on {site.Label}: NIC {nic.Mac} ({nic.Dev}): {problem}");
                else if (nic.Owned && StateProblem(links[nic.Dev], d, model.Features) is { } state)
                    yield return new("link-state", $"{g.Name} on {site.Label}: NIC {nic.Mac} ({nic.Dev}): {state}");
            }
        }
    }

    private static string? LinkProblem(LiveNic nic, KernelLink? link, SoakSite site, Guid uuid)
    {
        if (link is null) return "no such link";
        var problems = new List<string>();
        if (!link.IsMacvtap) problems.Add($"kind {link.Kind}");
        if (link.Mac != nic.Mac) problems.Add($"MAC {link.Mac}");
        if (link.Lower != site.Uplink) problems.Add($"on {link.Lower}, not {site.Uplink}");
        string alias = $"{AliasPrefix}{uuid:D}@{site.Instance}";
        if (nic.Owned && link.Alias != alias) problems.Add($"alias '{link.Alias}', not '{alias}'");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    /// <summary>Up exactly when the vCPUs run; before the listener, up whenever the guest is active (no hook call follows a pause).</summary>
    private static string? StateProblem(KernelLink link, DomainView domain, Features features)
    {
        bool shouldBeUp = !features.Listener || domain.State == "running";
        return link.AdminUp == shouldBeUp ? null : $"{(link.AdminUp ? "up" : "down")} while the guest is {domain.State}";
    }

    /// <summary>Every link carrying a hook's marks (of either host) belongs to a domain active on that host, as one of its NICs.</summary>
    private IEnumerable<Violation> NoOrphanLinks(WorldView view)
    {
        var fleetMacs = world.Fleet.SelectMany(g => g.Nics.Select(n => n.Mac)).ToHashSet();
        foreach (KernelLink link in view.Links)
        {
            if (link.Alias is { } alias && alias.StartsWith(AliasPrefix, StringComparison.Ordinal) && Owner(alias) is { } owner)
            {
                DomainView? d = owner.Guest is null ? null : view.Sites[owner.Site.Site].Domains.GetValueOrDefault(owner.Guest.Name);
                if (d is not { Active: true } || d.Nics.All(n => n.Dev != link.Name))
                    yield return new("orphan-link", $"{link} carries {owner.Site.Label}'s hook marks, but no domain running there has it");
            }
            else if (link.IsMacvtap && (fleetMacs.Contains(link.Mac) || link.Mac.StartsWith("52:54:00:e2:b", StringComparison.Ordinal)) &&
                     !view.Sites.Values.SelectMany(s => s.Domains.Values).Any(d => d.Active && d.Nics.Any(n => n.Dev == link.Name)))
            {
                yield return new("orphan-link", $"{link} has a MAC of the run's guests, but no running domain has it");
            }
        }
    }

    /// <summary>Each guarded NIC (issue 24) of an active guest has a chain on its link in the guest's table of that host's hook.</summary>
    private IEnumerable<Violation> Guarded(SoakModel model, WorldView view)
    {
        if (!model.Features.Guard) yield break;
        foreach (GuestModel g in model.Guests.Where(g => g.ActiveOn is not null))
        {
            SoakSite site = world[g.ActiveOn!.Value];
            if (view.Sites[site.Site].Domains.GetValueOrDefault(g.Name) is not { Active: true } d) continue;
            string alias = $"{AliasPrefix}{g.Spec.Uuid:D}@{site.Instance}";
            GuardTable? table = view.Guards.FirstOrDefault(t => t.Comment == alias);
            foreach (SpecNic spec in g.Spec.Owned.Where(n => n.Guard is not null))
            {
                if (d.Nics.FirstOrDefault(n => n.Mac == spec.Mac) is not { } nic) continue;
                if (table is null || !table.Devices.Contains(nic.Dev))
                    yield return new("guard", $"{g.Name} on {site.Label}: NIC {spec.Mac} ({nic.Dev}) guard='{spec.Guard}' has no chain: " +
                        (table is null ? $"no table of {alias}" : table.ToString()));
            }
        }
    }

    /// <summary>Every guard table of either hook belongs to a guest active on that host (a chain outlives its link and would guard the next one).</summary>
    private IEnumerable<Violation> NoOrphanGuards(WorldView view)
    {
        foreach (GuardTable table in view.Guards)
        {
            if (table.Comment is not { } alias || !alias.StartsWith(AliasPrefix, StringComparison.Ordinal) || Owner(alias) is not { } owner) continue;
            DomainView? d = owner.Guest is null ? null : view.Sites[owner.Site.Site].Domains.GetValueOrDefault(owner.Guest.Name);
            if (d is not { Active: true })
                yield return new("orphan-guard", $"{table} of {owner.Site.Label}'s hook, but its guest is not active there");
        }
    }

    /// <summary>
    /// Every announce the listeners tried since the last check went out: one the kernel refused leaves a switch sending a guest's
    /// frames to where it was. The listener counts since it started: a new pid counts from 0.
    /// </summary>
    private IEnumerable<Violation> AnnouncesSent(Dictionary<Site, (long Pid, long Failures)> now)
    {
        foreach ((Site site, (long pid, long failures)) in now)
        {
            long before = _announceFailures.TryGetValue(site, out var seen) && seen.Pid == pid ? seen.Failures : 0;
            if (failures > before)
                yield return new("announce", $"{site.Label()}: the listener (pid {pid}) could not send {failures - before} announce(s) (its log says why)");
        }
    }

    /// <summary>Each host's listener pid and the announces it could not send, from its figures; none without a listener.</summary>
    private Dictionary<Site, (long Pid, long Failures)> AnnounceFailures(SoakModel model) =>
        !model.Features.Listener ? [] : world.Sites.Select(s => (s.Site, Figures: world.Listener(s.Site).Figures()))
            .Where(s => s.Figures is not null).ToDictionary(s => s.Site, s => (s.Figures!["pid"], s.Figures!["announce_failures"]));

    private (SoakSite Site, GuestSpec? Guest)? Owner(string alias)
    {
        int at = alias.LastIndexOf('@');
        if (at < 0) return null;
        SoakSite? site = world.Sites.FirstOrDefault(s => s.Instance == alias[(at + 1)..]);
        if (site is null) return null;
        Guid.TryParse(alias[AliasPrefix.Length..at], out Guid uuid);
        return (site, world.Fleet.FirstOrDefault(g => g.Uuid == uuid));
    }

    /// <summary>No link name is two running NICs', and no name two records of one host's state.</summary>
    private static IEnumerable<Violation> NamesOnce(WorldView view)
    {
        var devs = view.Sites.Values.SelectMany(s => s.Domains.Values.Where(d => d.Active).SelectMany(d => d.Nics.Select(n => (Site: s.Site, d.Name, n.Dev))));
        foreach (var twice in devs.GroupBy(x => x.Dev).Where(g => g.Key.Length > 0 && g.Count() > 1))
            yield return new("name-twice", $"{twice.Key} is the NIC of {string.Join(" and ", twice.Select(x => $"{x.Name} on {x.Site.Label()}"))}");
        foreach (SiteView site in view.Sites.Values.Where(s => s.Status is not null))
        {
            foreach (var twice in site.Status!.Names.GroupBy(e => e.Name).Where(g => g.Count() > 1))
                yield return new("name-twice", $"{site.Site.Label()}'s state holds {twice.Key} {twice.Count()} times: {string.Join("; ", twice)}");
        }
    }

    /// <summary>
    /// `status` exits 0 on each host, its created links are the kernel's (name and ifindex), the kernel's hook links are in
    /// it, and a name it holds for a definition that is gone is one it reports as such (status changes nothing: the next
    /// allocation or seed frees it; not a disagreement, so status still exits 0).
    /// </summary>
    private IEnumerable<Violation> StatusAgrees(SoakModel model, WorldView view)
    {
        var links = view.Links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        foreach (SiteView siteView in view.Sites.Values)
        {
            SoakSite site = world[siteView.Site];
            if (siteView.Status is not { } status)
            {
                yield return new("status", $"{site.Label}: libvirt-shim status failed: {siteView.StatusError}");
                continue;
            }
            if (status.ExitCode != 0)
                yield return new("status", $"{site.Label}: libvirt-shim status exited {status.ExitCode}: {status.Show()}");
            foreach (StatusEntry e in status.Names.Where(e => e.HeldAs == "created"))
            {
                if (!links.TryGetValue(e.Name, out KernelLink? link) || link.Index != e.Ifindex)
                    yield return new("status", $"{site.Label}: the state says {e.Name} is link {e.Ifindex}; the kernel: {link?.ToString() ?? "no such link"}");
            }
            foreach (StatusEntry e in status.Names.Where(e => e.HeldAs == "defined"))
            {
                if (model.Guests.FirstOrDefault(g => g.Name == e.Domain) is { } g && !g.IsDefinedOn(site.Site) && !DefinitionGone(e))
                    yield return new("held-for-gone", $"{site.Label} holds {e.Name} for the definition of {g.Name}, which it does not have, " +
                        "and status does not say the definition is gone");
            }
            string mark = "@" + site.Instance;
            foreach (KernelLink link in view.Links.Where(l => l.Alias?.StartsWith(AliasPrefix, StringComparison.Ordinal) == true && l.Alias.EndsWith(mark)))
            {
                if (status.Names.All(e => e.Name != link.Name || e.HeldAs != "created"))
                    yield return new("status", $"{site.Label}: the kernel has its hook's link {link}, its state no record of it");
            }
        }
    }

    private static bool DefinitionGone(StatusEntry e) => e.Problem?.StartsWith("definition gone", StringComparison.Ordinal) == true;

    /// <summary>Each booted guest that runs answers IPv4 and IPv6 pings through each NIC (its MAC in the LAN's neighbour table, on its host's switch port).</summary>
    private IEnumerable<Violation> Reachable(SoakModel model, WorldView view)
    {
        foreach (GuestModel g in model.Guests.Where(g => g.Spec.Booted && g.Running))
        {
            SoakSite site = world[g.ActiveOn!.Value];
            if (view.Sites[site.Site].Domains.GetValueOrDefault(g.Name)?.State != "running") continue;
            LinuxGuest linux = world.Linux(g.Spec)!;
            foreach (GuestLanNic nic in linux.Nics.Concat(linux.HotNics.Where(h => g.LiveHot.Contains(h.Nic.Mac))))
            {
                foreach (string address in new[] { nic.Address.V4, nic.Address.V6 })
                {
                    if (!Lan.Answers(address))
                    {
                        yield return new("ping", $"{g.Name} on {site.Label}: NIC {nic.Nic.Mac} does not answer {address}");
                        continue;
                    }
                    string? mac = Lan.NeighbourMac(address);
                    string? port = Lan.PortOf(nic.Nic.Mac);
                    if (mac != nic.Nic.Mac || port != site.UplinkPort)
                        yield return new("ping", $"{g.Name} on {site.Label}: {address} answers from MAC {mac ?? "?"} on switch port {port ?? "?"}, " +
                            $"not {nic.Nic.Mac} on {site.UplinkPort}");
                }
            }
        }
    }
}
