using System.Xml.Linq;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using Serilog;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>migrate begin</c> and <c>restore begin</c>: the domain arrives with the names and lower devices of the host it
/// left. Each owned NIC keeps its name when it is free here, or gets the next free one; either way the name is
/// reserved for the domain at once. Lower devices are mapped to this host's (Uplinks, Networks), for owned NICs and
/// for libvirt's own direct NICs. Returns the rewritten XML, or null when nothing needed to change.
/// </summary>
internal static class ReceiveDomain
{
    /// <param name="session">The state, needed only when the domain has owned NICs.</param>
    public static string? Run(
        ShimSettings settings, LinkTable links, LinkMarker marker, ILogger log, long now, ShimSession? session, DomainDescription domain,
        XDocument document)
    {
        var rewriter = new DomainRewriter(document);
        Dictionary<Net.MacAddress, string> lowers = MapLowerDevices(settings, links, domain, rewriter);
        if (session is not null && domain.OwnedNics.Count > 0)
        {
            var arrival = new Arrival(settings, links, marker, now, domain);
            ReserveNames(session, arrival, log, lowers, rewriter);
            session.Commit();
        }
        return rewriter.Changed ? rewriter.Write() : null;
    }

    private static Dictionary<Net.MacAddress, string> MapLowerDevices(
        ShimSettings settings, LinkTable links, DomainDescription domain, DomainRewriter rewriter)
    {
        var lowers = new Dictionary<Net.MacAddress, string>();
        var required = new List<(string Device, string Subject)>();
        foreach (OwnedNic nic in domain.OwnedNics)
        {
            string lower = LowerDevices.Resolve(settings, domain, nic);
            if (nic.Source is not null) rewriter.SetOwnedSource(nic.Mac, lower);
            lowers[nic.Mac] = lower;
            required.Add((lower, Describe.Nic(domain, nic)));
        }
        foreach (LibvirtMacvtap nic in domain.LibvirtMacvtaps.Where(n => n.Lower is not null))
        {
            string lower = LowerDevices.Map(settings, nic.Lower!);
            rewriter.SetDirectSource(nic.Mac, lower);
            required.Add((lower, $"{Describe.Domain(domain)}: direct NIC {nic.Mac}"));
        }
        RequireExisting(links, required);
        return lowers;
    }

    private static void RequireExisting(LinkTable links, List<(string Device, string Subject)> required)
    {
        var devices = required.Select(r => r.Device).Distinct(StringComparer.Ordinal).ToList();
        IReadOnlyList<Link?> found = links.Find(devices);
        var missing = devices.Where((_, i) => found[i] is null).ToHashSet(StringComparer.Ordinal);
        foreach (var (device, subject) in required)
        {
            if (missing.Contains(device))
                throw new ShimFailure($"{subject}: lower device {device} does not exist on this host and the Uplinks setting does not map it");
        }
    }

    /// <summary>What reserving names for one arriving domain works with.</summary>
    private sealed record Arrival(ShimSettings Settings, LinkTable Links, LinkMarker Marker, long Now, DomainDescription Domain);

    private static void ReserveNames(
        ShimSession session, Arrival arrival, ILogger log, Dictionary<Net.MacAddress, string> lowers, DomainRewriter rewriter)
    {
        DomainDescription domain = arrival.Domain;
        NameState state = session.State;
        state.DropExpiredReservations(arrival.Now);
        GoneDefinitions.Free(arrival.Settings, session.Lease, state, arrival.Now);
        IReadOnlyList<Link?> links = arrival.Links.Find(domain.OwnedNics.Select(n => n.Name).ToList());
        var renamed = new List<OwnedNic>();
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            if (IsFreeHere(arrival, state, nic.Name, links[i])) Reserve(arrival, state, nic, nic.Name, lowers[nic.Mac]);
            else renamed.Add(nic);
        }
        if (renamed.Count == 0) return;
        List<string> names = TakeFreeNames.Run(session, arrival.Links, arrival.Settings, arrival.Now, renamed,
            (nic, name) => Reservation(arrival, nic, name, lowers[nic.Mac]),
            $"{Describe.Domain(domain)}: NIC {renamed[0].Mac} ({renamed[0].Name})");
        for (int i = 0; i < renamed.Count; i++)
        {
            Reserve(arrival, state, renamed[i], names[i], lowers[renamed[i].Mac]);
            rewriter.SetOwnedName(renamed[i].Mac, names[i]);
            log.Information("{Nic}: name taken on this host, arriving as {Name}", Describe.Nic(domain, renamed[i]), names[i]);
        }
    }

    private static bool IsFreeHere(Arrival arrival, NameState state, string name, Link? link)
    {
        if (!state.Scheme.IsManaged(name)) return false;
        if (link is { } existing && !arrival.Marker.IsOwnedBy(existing, arrival.Domain.Uuid)) return false;
        NameRecord? held = state.Find(name);
        return held is null || held.Domain == arrival.Domain.Uuid;
    }

    private static void Reserve(Arrival arrival, NameState state, OwnedNic nic, string name, string lower)
    {
        NameRecord? held = state.Find(name);
        if (held is { Holding: Holding.Created } && held.Domain == arrival.Domain.Uuid) return;
        state.Put(Reservation(arrival, nic, name, lower) with { InDefinitionToo = NameRecord.IsInDefinitionOf(held, arrival.Domain.Uuid) });
    }

    private static NameRecord Reservation(Arrival arrival, OwnedNic nic, string name, string lower) =>
        new(name, Holding.Reserved, arrival.Domain.Uuid, arrival.Domain.Name, nic.Mac, lower, nic.Mode,
            ExpiresAt: arrival.Now + arrival.Settings.ReservationSeconds);
}
