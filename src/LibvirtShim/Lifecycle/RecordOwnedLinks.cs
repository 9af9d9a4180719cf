using LibvirtShim.Domain;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using Serilog;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>reconnect</c>, after a libvirtd restart: the links of the domain's owned NICs that carry its marks are recorded
/// again; a missing or foreign link is logged, never fatal (a failing reconnect hook gets the guest killed).
/// </summary>
internal static class RecordOwnedLinks
{
    /// <summary>Returns whether anything changed.</summary>
    public static bool Run(NameState state, LinkTable links, LinkMarker marker, ILogger log, DomainDescription domain)
    {
        if (domain.OwnedNics.Count == 0) return false;
        IReadOnlyList<Link?> found = links.Find(domain.OwnedNics.Select(n => n.Name).ToList());
        bool changed = false;
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            if (found[i] is not { } link || !marker.IsOwnedBy(link, domain.Uuid))
            {
                log.Warning("{Nic}: no macvtap of libvirt-shim's for it in the kernel", Describe.Nic(domain, nic));
                continue;
            }
            NameRecord? held = state.Find(nic.Name);
            if (held is not null && held.Domain != domain.Uuid)
                log.Warning("Name {Name} was recorded for {Holder}; the kernel's link belongs to domain {Domain}", nic.Name,
                    Describe.Holder(held), domain.Name);
            NameRecord wanted = new(nic.Name, Holding.Created, domain.Uuid, domain.Name, link.Mac,
                held?.Lower is { Length: > 0 } lower ? lower : nic.Source ?? "", link.Mode ?? nic.Mode, link.Index,
                InDefinitionToo: held?.Domain == domain.Uuid && held.InDefinitionToo);
            if (held == wanted) continue;
            state.Put(wanted);
            changed = true;
        }
        return changed;
    }
}
