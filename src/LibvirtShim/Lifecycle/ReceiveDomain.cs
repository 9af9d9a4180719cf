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
/// for libvirt's own direct NICs (not for a network NIC whose actual type is direct: the network picks its device on
/// each host). Each NIC is rewritten through its own elements, so two NICs with one MAC keep their own uplinks.
/// Returns the rewritten XML, or null when nothing needed to change.
/// </summary>
internal static class ReceiveDomain
{
    /// <param name="session">The state, needed only when the domain has owned NICs.</param>
    public static string? Run(
        ShimSettings settings, LinkTable links, LinkMarker marker, ILogger log, long now, ShimSession? session, XDocument document)
    {
        DomainDescription domain = DomainReader.Read(document, out NicElements elements);
        var rewriter = new DomainRewriter(document);
        string[] lowers = MapLowerDevices(settings, links, domain, elements, rewriter);
        if (session is not null && domain.OwnedNics.Count > 0)
        {
            var arrival = new Arrival(settings, links, marker, now, domain);
            ReserveNames(session, arrival, log, lowers, elements, rewriter);
            session.Commit();
        }
        return rewriter.Changed ? rewriter.Write() : null;
    }

    /// <summary>Each owned NIC's lower device here, in the order of <see cref="DomainDescription.OwnedNics"/>.</summary>
    private static string[] MapLowerDevices(
        ShimSettings settings, LinkTable links, DomainDescription domain, NicElements elements, DomainRewriter rewriter)
    {
        var lowers = new string[domain.OwnedNics.Count];
        var required = new List<(string Device, string Subject)>();
        for (int i = 0; i < lowers.Length; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            lowers[i] = LowerDevices.Resolve(settings, domain, nic);
            if (nic.Source is not null) rewriter.SetOwnedSource(elements.Owned[i].Link, lowers[i]);
            required.Add((lowers[i], Describe.Nic(domain, nic)));
        }
        for (int i = 0; i < domain.LibvirtMacvtaps.Count; i++)
        {
            LibvirtMacvtap nic = domain.LibvirtMacvtaps[i];
            if (nic.Lower is null || nic.ThroughNetwork) continue;
            string lower = LowerDevices.Map(settings, nic.Lower);
            rewriter.SetDirectSource(elements.Libvirt[i], lower);
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
        ShimSession session, Arrival arrival, ILogger log, string[] lowers, NicElements elements, DomainRewriter rewriter)
    {
        DomainDescription domain = arrival.Domain;
        NameState state = session.State;
        state.DropExpiredReservations(arrival.Now);
        GoneDefinitions.Free(arrival.Settings, session.Lease, state, arrival.Now);
        IReadOnlyList<Link?> links = arrival.Links.Find(domain.OwnedNics.Select(n => n.Name).ToList());
        var renamed = new List<int>();
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            if (IsFreeHere(arrival, state, nic.Name, links[i])) Reserve(arrival, state, nic, nic.Name, lowers[i]);
            else renamed.Add(i);
        }
        if (renamed.Count == 0) return;
        OwnedNic first = domain.OwnedNics[renamed[0]];
        List<string> names = TakeFreeNames.Run(session, arrival.Links, arrival.Settings, arrival.Now, renamed,
            (i, name) => Reservation(arrival, domain.OwnedNics[i], name, lowers[i]), $"{Describe.Nic(domain, first)}");
        for (int k = 0; k < renamed.Count; k++)
        {
            int i = renamed[k];
            Reserve(arrival, state, domain.OwnedNics[i], names[k], lowers[i]);
            rewriter.SetOwnedName(elements.Owned[i].Interface, names[k]);
            log.Information("{Nic}: name taken on this host, arriving as {Name}", Describe.Nic(domain, domain.OwnedNics[i]), names[k]);
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
