using System.Xml.Linq;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>Which NICs <c>adopt</c> takes (all direct NICs, or those MACs), and whether they name a network.</summary>
internal sealed record AdoptOptions(IReadOnlySet<MacAddress>? Macs, string? Network);

/// <summary>
/// <c>adopt</c>: hands a definition's direct NICs to the hook, with names preassigned from the bitmap and held for the
/// domain (by UUID) as its definition's, until seeding finds the definition gone.
/// </summary>
internal static class AdoptDomain
{
    public static string Run(ShimSession session, ShimSettings settings, LinkTable links, long now, XDocument document, AdoptOptions options)
    {
        XElement domain = DomainReader.DomainElement(document);
        string name = Identity.Name(domain);
        var nics = DirectNicConversion.Find(domain)
            .Where(n => options.Macs is null || n.Mac is { } mac && options.Macs.Contains(mac)).ToList();
        foreach (MacAddress wanted in options.Macs ?? new HashSet<MacAddress>())
        {
            if (nics.All(n => n.Mac != wanted)) throw new ShimFailure($"domain '{name}': no direct NIC has MAC {wanted}");
        }
        foreach (DirectNic nic in nics)
        {
            if (DirectNicConversion.Problem(nic) is { } problem)
                throw new ShimFailure($"domain '{name}': NIC {nic.Mac?.ToString() ?? "without a MAC"} {problem}");
            if (options.Network is null) LowerDevices.CheckAllowed(settings, nic.SourceDevice!,
                $"domain '{name}': NIC {nic.Mac}: lower device '{nic.SourceDevice}'");
        }
        if (nics.Count == 0) return new DomainRewriter(document).Write();

        nics = nics.Select(DirectNicConversion.EnsureMac).ToList();
        Guid uuid = DirectNicConversion.EnsureUuid(domain);
        long holdUntil = now + settings.ReservationSeconds;
        HoldOwnedNames(session, DomainReader.Read(document), holdUntil);
        List<string> names = TakeFreeNames.Run(session, links, settings, now, nics,
            (nic, n) => Held(nic, n, uuid, name, options, holdUntil), $"domain '{name}': NIC {nics[0].Mac}");
        for (int i = 0; i < nics.Count; i++)
            DirectNicConversion.Convert(domain, nics[i], names[i], options.Network is null ? nics[i].SourceDevice : null, options.Network);
        DomainReader.Read(document);
        session.Commit();
        return new DomainRewriter(document).Write();
    }

    /// <summary>Names the definition already hands to the hook are held too, so none is handed out twice.</summary>
    private static void HoldOwnedNames(ShimSession session, DomainDescription domain, long holdUntil)
    {
        foreach (OwnedNic nic in domain.OwnedNics.Where(n => session.State.Scheme.IsManaged(n.Name)))
        {
            NameRecord? held = session.State.Find(nic.Name);
            if (held is not null && held.Domain != domain.Uuid)
                throw new ShimFailure($"{Describe.Nic(domain, nic)}: name is held by {Describe.Holder(held)}; give this NIC another target dev");
            if (held is null)
                session.State.Put(new NameRecord(nic.Name, Holding.Defined, domain.Uuid, domain.Name, nic.Mac, nic.Source ?? "", nic.Mode,
                    ExpiresAt: holdUntil));
        }
    }

    private static NameRecord Held(DirectNic nic, string name, Guid uuid, string domainName, AdoptOptions options, long holdUntil)
    {
        MacvtapModes.TryParse(nic.Mode, out MacvtapMode mode);
        return new NameRecord(name, Holding.Defined, uuid, domainName, nic.Mac!.Value, options.Network is null ? nic.SourceDevice ?? "" : "", mode,
            ExpiresAt: holdUntil);
    }
}
