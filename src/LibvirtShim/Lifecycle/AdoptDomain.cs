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
    /// <summary>The definition with its direct NICs handed over; every failure names the domain.</summary>
    public static string Run(ShimSession session, ShimSettings settings, LinkTable links, long now, XDocument document, AdoptOptions options)
    {
        XElement domain = DomainReader.DomainElement(document);
        string name = Identity.Name(domain);
        try
        {
            return Adopt(session, settings, links, now, document, domain, name, options);
        }
        catch (ShimFailure e) when (!e.NamesDomain)
        {
            throw new ShimFailure($"domain '{name}': {e.Message}", e.Advice, e);
        }
    }

    private static string Adopt(
        ShimSession session, ShimSettings settings, LinkTable links, long now, XDocument document, XElement domain, string name, AdoptOptions options)
    {
        List<DirectNic> direct = DirectNicConversion.Find(domain);
        var nics = direct.Where(n => options.Macs is null || n.Mac is { } mac && options.Macs.Contains(mac)).ToList();
        foreach (MacAddress wanted in options.Macs ?? new HashSet<MacAddress>())
        {
            if (nics.All(n => n.Mac != wanted)) throw new ShimFailure($"domain '{name}': no direct NIC has MAC {wanted}");
        }
        foreach (DirectNic nic in nics)
        {
            if (DirectNicConversion.Problem(nic) is { } problem)
                throw new ShimFailure($"domain '{name}': NIC {nic.Mac?.ToString() ?? "without a MAC"} {problem}");
            if (options.Network is null) LowerDevices.CheckAllowed(settings, LowerDevices.Map(settings, nic.SourceDevice!),
                $"domain '{name}': NIC {nic.Mac}: lower device '{LowerDevices.Map(settings, nic.SourceDevice!)}'");
        }
        if (nics.Count == 0) return new DomainRewriter(document).Write();
        SettleStaleLinks(domain, name, nics, direct.Except(nics));

        nics = nics.Select(DirectNicConversion.EnsureMac).ToList();
        Guid uuid = DirectNicConversion.EnsureUuid(domain);
        long holdUntil = now + settings.ReservationSeconds;
        HoldOwnedNames(session, settings, DomainReader.Read(document), holdUntil);
        List<string> names = TakeFreeNames.Run(session, links, settings, now, nics,
            (nic, n) => Held(settings, nic, n, uuid, name, options, holdUntil), $"domain '{name}': NIC {nics[0].Mac}");
        for (int i = 0; i < nics.Count; i++)
            DirectNicConversion.Convert(domain, nics[i], names[i], options.Network is null ? nics[i].SourceDevice : null, options.Network);
        DomainReader.Read(document);
        session.Commit();
        return new DomainRewriter(document).Write();
    }

    /// <summary>
    /// A &lt;shim:link&gt; of a direct NIC is stale (left from an earlier adopt, the NIC turned back into a direct one): one of
    /// a NIC being adopted goes, and the NIC gets a new one; one of another direct NIC refuses the domain, which the hook
    /// would refuse.
    /// </summary>
    private static void SettleStaleLinks(XElement domain, string name, List<DirectNic> adopting, IEnumerable<DirectNic> others)
    {
        var replaced = adopting.Select(n => n.Mac).OfType<MacAddress>().ToHashSet();
        var refused = others.Select(n => n.Mac).OfType<MacAddress>().ToHashSet();
        foreach (XElement link in ShimMetadata.Links(domain).ToList())
        {
            if (!MacAddress.TryParse((string?)link.Attribute("mac"), out MacAddress mac)) continue;
            if (replaced.Contains(mac)) link.Remove();
            else if (refused.Contains(mac))
                throw new ShimFailure($"domain '{name}': NIC {mac}: its <shim:link> is stale: the NIC is <interface type='direct'>, which libvirt " +
                    "creates itself", "remove that <shim:link> from the definition's metadata ('virsh edit'), or hand the NIC over too");
        }
    }

    /// <summary>Names the definition already hands to the hook are held too, so none is handed out twice.</summary>
    private static void HoldOwnedNames(ShimSession session, ShimSettings settings, DomainDescription domain, long holdUntil)
    {
        foreach (OwnedNic nic in domain.OwnedNics.Where(n => session.State.Scheme.IsManaged(n.Name)))
        {
            NameRecord? held = session.State.Find(nic.Name);
            if (held is not null && held.Domain != domain.Uuid)
                throw new ShimFailure($"{Describe.Nic(domain, nic)}: name is held by {Describe.Holder(held)}; give this NIC another target dev");
            if (held is null)
                session.State.Put(new NameRecord(nic.Name, Holding.Defined, domain.Uuid, domain.Name, nic.Mac,
                    LowerDeviceMapping.Local(settings, nic.Source, nic.Network) ?? "", nic.Mode,
                    ExpiresAt: holdUntil));
        }
    }

    private static NameRecord Held(
        ShimSettings settings, DirectNic nic, string name, Guid uuid, string domainName, AdoptOptions options, long holdUntil)
    {
        MacvtapModes.TryParse(nic.Mode, out MacvtapMode mode);
        string lower = LowerDeviceMapping.Local(settings, options.Network is null ? nic.SourceDevice : null, options.Network) ?? "";
        return new NameRecord(name, Holding.Defined, uuid, domainName, nic.Mac!.Value, lower, mode,
            ExpiresAt: holdUntil);
    }
}
