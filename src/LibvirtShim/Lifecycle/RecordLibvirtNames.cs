using LibvirtShim.Domain;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using Serilog;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// <c>start</c>, <c>started</c> and <c>reconnect</c>: remember the names of libvirt's own macvtaps as they are now.
/// They are only known while the guest runs (they are blanked again at stop), so they are recorded here and forgotten
/// at release. Never fails for a disagreement; it records what is true and logs the rest.
/// </summary>
internal static class RecordLibvirtNames
{
    /// <summary>Records libvirt's macvtap names for the domain; returns whether anything changed.</summary>
    public static bool Run(NameState state, ILogger log, DomainDescription domain)
    {
        bool changed = false;
        var current = domain.LibvirtMacvtaps.Where(n => n.Name is not null).ToDictionary(n => n.Name!, StringComparer.Ordinal);
        foreach (NameRecord old in state.OfDomain(domain.Uuid).Where(r => r.Holding == Holding.Libvirt && !current.ContainsKey(r.Name)))
        {
            state.Remove(old.Name);
            changed = true;
        }
        foreach (LibvirtMacvtap nic in current.Values)
        {
            if (SeedState.LibvirtRecord(domain, nic) is not { } wanted)
            {
                log.Warning("Direct NIC {Mac} of domain {Domain}: " +
                    "target dev {Name} is not a link name the kernel accepts ({Problem}); not recorded",
                    nic.Mac, domain.Name, nic.Name, InterfaceName.Problem(nic.Name));
                continue;
            }
            NameRecord? held = state.Find(nic.Name!);
            if (held == wanted) continue;
            if (held is not null && held.Domain != domain.Uuid && (held.Holding == Holding.Created || held.IsInDefinition))
            {
                // A link the hook made for another guest sits on that name (the XML is wrong, not the record), or another
                // domain's definition holds it: that hold outlives this guest's run, which must not give it back at release.
                log.Warning("Name {Name} is held by {Holder}; libvirt gave it to a direct NIC of domain {Domain}: " +
                    "not recorded for that domain (the name stays held)", nic.Name, Describe.Holder(held), domain.Name);
                continue;
            }
            if (held is not null && held.Domain != domain.Uuid)
                log.Warning("Name {Name} was recorded for {Holder}; libvirt gave it to domain {Domain}", nic.Name,
                    Describe.Holder(held), domain.Name);
            state.Put(wanted);
            changed = true;
        }
        return changed;
    }
}
