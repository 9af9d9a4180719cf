using LibvirtShim.Domain;
using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>start</c>, <c>started</c> and <c>reconnect</c>: remember the names of the domain's macvtaps as they are now.
/// libvirt's own names are only known while the guest runs (they are blanked again at stop), so they are recorded
/// here and forgotten at release. Never fails for a disagreement; it records what is true and logs the rest.
/// </summary>
internal static class RecordNames
{
    /// <summary>Records libvirt's macvtap names for the domain; returns whether anything changed.</summary>
    public static bool RecordLibvirtNames(ShimSession session, DomainDescription domain)
    {
        NameState state = session.State;
        bool changed = false;
        var current = domain.LibvirtMacvtaps.Where(n => n.Name is not null).ToDictionary(n => n.Name!, StringComparer.Ordinal);
        foreach (NameRecord old in state.OfDomain(domain.Uuid).Where(r => r.Holding == Holding.Libvirt && !current.ContainsKey(r.Name)))
        {
            state.Remove(old.Name);
            changed = true;
        }
        foreach (LibvirtMacvtap nic in current.Values)
        {
            if (LibvirtRecord(domain, nic) is not { } wanted)
            {
                session.Context.Log.Warning("Direct NIC {Mac} of domain {Domain}: " +
                    "target dev {Name} is not a link name the kernel accepts ({Problem}); not recorded",
                    nic.Mac, domain.Name, nic.Name, InterfaceName.Problem(nic.Name));
                continue;
            }
            NameRecord? held = state.Find(nic.Name!);
            if (held == wanted) continue;
            if (held is { Holding: Holding.Created } && held.Domain != domain.Uuid)
            {
                // A link the hook made for another guest sits on that name: the XML is wrong, not the record.
                session.Context.Log.Warning("Name {Name} is the macvtap libvirt-shim created for {Holder}; " +
                    "not recording it for domain {Domain}", nic.Name, Describe.Holder(held), domain.Name);
                continue;
            }
            if (held is not null && held.Domain != domain.Uuid)
                session.Context.Log.Warning("Name {Name} was recorded for {Holder}; libvirt gave it to domain {Domain}", nic.Name,
                    Describe.Holder(held), domain.Name);
            state.Put(wanted);
            changed = true;
        }
        return changed;
    }

    /// <summary>
    /// The record of libvirt's own macvtap, or null when its name is one the kernel refuses (no link can have it): the
    /// state holds exactly the names the kernel accepts. A lower device name the kernel refuses is not kept.
    /// </summary>
    internal static NameRecord? LibvirtRecord(DomainDescription domain, LibvirtMacvtap nic, int ifindex = 0) =>
        nic.Name is { } name && InterfaceName.IsValid(name)
            ? new NameRecord(name, Holding.Libvirt, domain.Uuid, domain.Name, nic.Mac, InterfaceName.IsValid(nic.Lower) ? nic.Lower! : "",
                nic.Mode, ifindex)
            : null;

    /// <summary>
    /// After a libvirtd restart: the links of the domain's owned NICs that carry its marks are recorded again;
    /// a missing or foreign link is logged, never fatal (a failing reconnect hook gets the guest killed).
    /// </summary>
    public static bool RecordOwnedLinks(ShimSession session, DomainDescription domain)
    {
        if (domain.OwnedNics.Count == 0) return false;
        NameState state = session.State;
        IReadOnlyList<Link?> links = session.Context.Links.Find(domain.OwnedNics.Select(n => n.Name).ToList());
        bool changed = false;
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            if (links[i] is not { } link || !session.Context.Marker.IsOwnedBy(link, domain.Uuid))
            {
                session.Context.Log.Warning("{Nic}: no macvtap of libvirt-shim's for it in the kernel", Describe.Nic(domain, nic));
                continue;
            }
            NameRecord? held = state.Find(nic.Name);
            if (held is not null && held.Domain != domain.Uuid)
                session.Context.Log.Warning("Name {Name} was recorded for {Holder}; the kernel's link belongs to domain {Domain}", nic.Name,
                    Describe.Holder(held), domain.Name);
            NameRecord wanted = new(nic.Name, Holding.Created, domain.Uuid, domain.Name, link.Mac,
                held?.Lower is { Length: > 0 } lower ? lower : nic.Source ?? "", link.Mode ?? nic.Mode, link.Index,
                KeptByDefinition: held?.Domain == domain.Uuid && held.KeptByDefinition);
            if (held == wanted) continue;
            state.Put(wanted);
            changed = true;
        }
        return changed;
    }
}
