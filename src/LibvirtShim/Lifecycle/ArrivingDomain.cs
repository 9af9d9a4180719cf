using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>migrate begin</c> and <c>restore begin</c>: the domain arrives with the names and lower devices of the host it
/// left. Each owned NIC keeps its name when it is free here, or gets the next free one; either way the name is
/// reserved for the domain at once. Lower devices are mapped to this host's (Uplinks, Networks), for owned NICs and
/// for libvirt's own direct NICs. Returns the rewritten XML, or null when nothing needed to change.
/// </summary>
internal static class ArrivingDomain
{
    /// <param name="session">The state, needed only when the domain has owned NICs.</param>
    public static string? Run(ShimContext context, ShimSession? session, DomainDescription domain, XDocument document)
    {
        var rewriter = new DomainRewriter(document);
        Dictionary<Net.MacAddress, string> lowers = MapLowerDevices(context, domain, rewriter);
        if (session is not null && domain.OwnedNics.Count > 0)
        {
            ReserveNames(session, domain, lowers, rewriter);
            session.Commit();
        }
        return rewriter.Changed ? rewriter.Write() : null;
    }

    private static Dictionary<Net.MacAddress, string> MapLowerDevices(ShimContext context, DomainDescription domain, DomainRewriter rewriter)
    {
        var lowers = new Dictionary<Net.MacAddress, string>();
        var required = new List<(string Device, string Subject)>();
        foreach (OwnedNic nic in domain.OwnedNics)
        {
            string lower = LowerDevices.Resolve(context.Settings, domain, nic);
            if (nic.Source is not null) rewriter.SetOwnedSource(nic.Mac, lower);
            lowers[nic.Mac] = lower;
            required.Add((lower, Describe.Nic(domain, nic)));
        }
        foreach (LibvirtMacvtap nic in domain.LibvirtMacvtaps.Where(n => n.Lower is not null))
        {
            string lower = LowerDevices.Map(context.Settings, nic.Lower!);
            rewriter.SetDirectSource(nic.Mac, lower);
            required.Add((lower, $"{Describe.Domain(domain)}: direct NIC {nic.Mac}"));
        }
        RequireExisting(context, required);
        return lowers;
    }

    private static void RequireExisting(ShimContext context, List<(string Device, string Subject)> required)
    {
        var devices = required.Select(r => r.Device).Distinct(StringComparer.Ordinal).ToList();
        IReadOnlyList<Link?> found = context.Links.Find(devices);
        var missing = devices.Where((_, i) => found[i] is null).ToHashSet(StringComparer.Ordinal);
        foreach (var (device, subject) in required)
        {
            if (missing.Contains(device))
                throw new ShimException($"{subject}: lower device {device} does not exist on this host and the Uplinks setting does not map it");
        }
    }

    private static void ReserveNames(ShimSession session, DomainDescription domain, Dictionary<Net.MacAddress, string> lowers,
        DomainRewriter rewriter)
    {
        if (domain.OwnedNics.Count == 0) return;
        ShimContext context = session.Context;
        NameState state = session.State;
        FreeNames.PurgeExpiredReservations(state, context.Now);
        IReadOnlyList<Link?> links = context.Links.Find(domain.OwnedNics.Select(n => n.Name).ToList());
        var renamed = new List<OwnedNic>();
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            if (IsFreeHere(context, state, domain, nic.Name, links[i])) Reserve(context, state, domain, nic, nic.Name, lowers[nic.Mac]);
            else renamed.Add(nic);
        }
        if (renamed.Count == 0) return;
        List<string> names = FreeNames.Take(session, renamed,
            (nic, name) => Reservation(context, domain, nic, name, lowers[nic.Mac]),
            $"{Describe.Domain(domain)}: NIC {renamed[0].Mac} ({renamed[0].Name})");
        for (int i = 0; i < renamed.Count; i++)
        {
            Reserve(context, state, domain, renamed[i], names[i], lowers[renamed[i].Mac]);
            rewriter.SetOwnedName(renamed[i].Mac, names[i]);
            context.Log.Information("{Nic}: name taken on this host, arriving as {Name}", Describe.Nic(domain, renamed[i]), names[i]);
        }
    }

    private static bool IsFreeHere(ShimContext context, NameState state, DomainDescription domain, string name, Link? link)
    {
        if (!context.Scheme.IsManaged(name)) return false;
        if (link is { } existing && !context.Marker.IsOwnedBy(existing, domain.Uuid)) return false;
        NameRecord? held = state.Find(name);
        return held is null || held.Domain == domain.Uuid;
    }

    private static void Reserve(ShimContext context, NameState state, DomainDescription domain, OwnedNic nic, string name, string lower)
    {
        NameRecord? held = state.Find(name);
        if (held is { Holding: Holding.Created } && held.Domain == domain.Uuid) return;
        state.Put(Reservation(context, domain, nic, name, lower) with { KeptByDefinition = NameRecord.IsKeptFor(held, domain.Uuid) });
    }

    private static NameRecord Reservation(ShimContext context, DomainDescription domain, OwnedNic nic, string name, string lower) =>
        new(name, Holding.Reserved, domain.Uuid, domain.Name, nic.Mac, lower, nic.Mode,
            ExpiresAt: context.Now + context.Settings.ReservationSeconds);
}
